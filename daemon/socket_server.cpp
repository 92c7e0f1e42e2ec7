#include "daemon/socket_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include <boost/asio.hpp>

#include "daemon/log.h"

namespace memd {
namespace {

namespace asio = boost::asio;
using Stream = asio::local::stream_protocol;

// Whether the peer may talk to memd, and who it is.
struct Peer {
  bool allowed = false;
  uid_t uid = 0;
  pid_t pid = 0;
  std::string refusal;
};

Peer check_peer(int fd, const SocketServerOptions& options) {
  Peer peer;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    peer.refusal = "permission denied: cannot read the peer's credentials";
    return peer;
  }
  peer.uid = cred.uid;
  peer.pid = cred.pid;
  if (cred.uid == 0 || cred.uid == geteuid()) {
    peer.allowed = true;
    return peer;
  }
  if (options.group) {
    if (cred.gid == *options.group) {
      peer.allowed = true;
      return peer;
    }
    std::vector<gid_t> groups(64);
    for (;;) {
      socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
      if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
        groups.resize(glen / sizeof(gid_t));
        break;
      }
      if (errno != ERANGE || groups.size() > 65536) {
        groups.clear();
        break;
      }
      groups.resize(std::max<size_t>(glen / sizeof(gid_t), groups.size() * 2));
    }
    if (std::find(groups.begin(), groups.end(), *options.group) != groups.end()) {
      peer.allowed = true;
      return peer;
    }
    peer.refusal = fmt::format("permission denied: uid {} is neither root nor in group '{}'",
                               cred.uid, options.group_name);
  } else {
    peer.refusal = fmt::format("permission denied: uid {} is not root", cred.uid);
  }
  return peer;
}

}  // namespace

struct SocketServer::Impl {
  class Connection;

  Impl(Service* s, int fd, SocketServerOptions o)
      : service(s), options(std::move(o)), acceptor(io), retry_timer(io) {
    boost::system::error_code ec;
    acceptor.assign(Stream(), fd, ec);
    if (ec) {
      log::err("socket: cannot use descriptor {}: {}", fd, ec.message());
      ::close(fd);
    }
  }

  void accept();
  void start() {
    accept();
    for (int i = 0; i < options.threads; ++i) {
      threads.emplace_back([this] {
        for (;;) {
          try {
            io.run();
            return;
          } catch (const std::exception& e) {  // a handler threw: log it, serve on
            log::err("socket: {}", e.what());
          }
        }
      });
    }
  }
  void stop() {
    if (threads.empty()) return;
    io.stop();
    for (std::thread& t : threads) {
      t.join();
    }
    threads.clear();
    boost::system::error_code ec;
    acceptor.close(ec);
  }

  // Connections refer to the first three while the io_context destroys them: they go last.
  Service* service;
  const SocketServerOptions options;
  std::atomic<int> clients{0};
  asio::io_context io;
  Stream::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::vector<std::thread> threads;
};

// One client connection: reads a line, runs it, writes the reply, reads the next.
// Its handlers run on the socket's strand, one at a time, so its members need no lock.
class SocketServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl* server, Stream::socket socket)
      : server_(server), socket_(std::move(socket)), in_(kMaxCommandBytes) {
    ++server_->clients;
  }
  ~Connection() {
    server_->service->disconnect(&client_);
    --server_->clients;
  }

  void start() {
    if (server_->clients > server_->options.max_clients) {
      log::warning("socket: refusing a client: {} connections already",
                   server_->options.max_clients);
      return send(Reply::error(Failure::kBusy, fmt::format("too many clients ({}); try again later",
                                                           server_->options.max_clients)),
                  true);
    }
    Peer peer = check_peer(socket_.native_handle(), server_->options);
    if (!peer.allowed) {
      log::notice("socket: refused pid {} uid {}: {}", peer.pid, peer.uid, peer.refusal);
      return send(Reply::error(Failure::kDenied, peer.refusal), true);
    }
    client_.origin = Client::Origin::kSocket;
    client_.uid = peer.uid;
    read_line();
  }

 private:
  void read_line() {
    asio::async_read_until(socket_, in_, '\n',
                           [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                             self->on_line(ec, n);
                           });
  }

  void on_line(boost::system::error_code ec, size_t n) {
    if (ec == asio::error::not_found) {
      return send(Reply::error(Failure::kBadInput,
                               fmt::format("line longer than {} bytes; closing the connection",
                                           kMaxCommandBytes)),
                  true);
    }
    if (ec) return;  // the client went away (or memd is stopping)
    std::string line(asio::buffers_begin(in_.data()), asio::buffers_begin(in_.data()) + n);
    in_.consume(n);
    auto command = parse_command(line);
    if (!command) {
      // A bad `replay data` line announces bytes that cannot be skipped safely.
      const bool frame = line.rfind("replay data", 0) == 0;
      return send(Reply::error(Failure::kBadInput,
                               command.error().message + (frame ? "; closing the connection" : "")),
                  frame);
    }
    if (auto* r = std::get_if<ReplayCommand>(&*command); r && r->op == ReplayCommand::Op::kData) {
      return read_frame(r->bytes);
    }
    send(server_->service->run(*command, &client_), false);
  }

  // The N raw bytes after `replay data bytes=N`: what the line read already
  // buffered, then the rest. Applied only once complete.
  void read_frame(size_t bytes) {
    // Without a replay of its own a client's frame is skipped, never buffered:
    // connections cannot make memd hold 64 MiB each.
    if (client_.replay_session == 0) return skip_frame(bytes);
    frame_.resize(bytes);
    const size_t buffered = std::min(bytes, in_.size());
    asio::buffer_copy(asio::buffer(frame_.data(), buffered), in_.data());
    in_.consume(buffered);
    asio::async_read(socket_, asio::buffer(frame_.data() + buffered, bytes - buffered),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec) return;  // disconnected mid-frame: nothing applied
                       Reply r = self->server_->service->replay_data(&self->client_, self->frame_);
                       self->frame_.clear();
                       self->frame_.shrink_to_fit();
                       self->send(r, false);
                     });
  }

  void skip_frame(size_t left) {
    const size_t buffered = std::min(left, in_.size());
    in_.consume(buffered);
    left -= buffered;
    if (left == 0) {  // the Service says why it was refused
      return send(server_->service->replay_data(&client_, std::string_view()), false);
    }
    socket_.async_read_some(
        asio::buffer(sink_.data(), std::min(left, sink_.size())),
        [self = shared_from_this(), left](boost::system::error_code ec, size_t n) {
          if (!ec) self->skip_frame(left - n);
        });
  }

  void send(const Reply& reply, bool close_after) {
    out_ = reply.json_line();
    asio::async_write(
        socket_, asio::buffer(out_),
        [self = shared_from_this(), close_after](boost::system::error_code ec, size_t) {
          if (ec) return;
          if (close_after) return self->hang_up();
          self->read_line();
        });
  }

  // Ends the conversation after a last reply without resetting it: stop
  // sending, then discard the rest of the client's current line (64 KiB and
  // 2 s at most), so that its last write does not fail and it reads the reply.
  void hang_up() {
    boost::system::error_code ignored;
    socket_.shutdown(Stream::socket::shutdown_send, ignored);
    timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor(), std::chrono::seconds(2));
    timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ignored_too;
      self->socket_.close(ignored_too);
    });
    drain(0);
  }

  void drain(size_t discarded) {
    socket_.async_read_some(asio::buffer(sink_), [self = shared_from_this(), discarded](
                                                     boost::system::error_code ec, size_t n) {
      const bool end_of_line = std::memchr(self->sink_.data(), '\n', n) != nullptr;
      if (ec || end_of_line || discarded + n > kMaxCommandBytes) {
        boost::system::error_code ignored;
        self->timer_->cancel();
        self->socket_.close(ignored);
        return;
      }
      self->drain(discarded + n);
    });
  }

  Impl* server_;
  Stream::socket socket_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::array<char, 4096> sink_{};
  asio::streambuf in_;
  std::string frame_;
  std::string out_;
  Client client_;
};

void SocketServer::Impl::accept() {
  // Each connection's socket runs its handlers on its own strand: never two at once.
  acceptor.async_accept(asio::make_strand(io),
                        [this](boost::system::error_code ec, Stream::socket socket) {
                          if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
                          if (ec) {
                            // Out of descriptors (EMFILE) and the like: wait a little instead of
                            // spinning.
                            log::warning("socket: accept failed: {}", ec.message());
                            retry_timer.expires_after(std::chrono::milliseconds(100));
                            retry_timer.async_wait([this](boost::system::error_code tec) {
                              if (!tec) accept();
                            });
                            return;
                          }
                          std::make_shared<Connection>(this, std::move(socket))->start();
                          accept();
                        });
}

SocketServer::SocketServer(Service* service, int listen_fd, SocketServerOptions options)
    : impl_(std::make_unique<Impl>(service, listen_fd, std::move(options))) {}

SocketServer::~SocketServer() {
  stop();
}

void SocketServer::start() {
  impl_->start();
}

void SocketServer::stop() {
  impl_->stop();
}

}  // namespace memd
