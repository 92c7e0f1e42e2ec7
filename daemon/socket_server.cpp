#include "daemon/socket_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>

#include <boost/asio.hpp>

#include "daemon/command_log.h"
#include "daemon/log.h"
#include "daemon/mutex.h"
#include "daemon/system.h"

namespace memd {
namespace {

namespace asio = boost::asio;
using Stream = asio::local::stream_protocol;

// A held reply whose client took nothing of it for this long may be dropped
// when replies held for slow clients exceed max_held_reply_bytes (a client
// reading steadily takes some every few milliseconds).
constexpr auto kStalled = std::chrono::milliseconds(100);

// At most this much of a client's line is read and discarded after memd's last
// reply (hang_up): enough for the rest of a line a few times kMaxCommandBytes
// long, which its client is still writing; nothing of it is kept.
constexpr size_t kMaxDrainBytes = 1 << 20;

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

// Which io_context a connection is served on. Every connection starts on the
// first lane, a thread of its own that accepts, checks the peer and runs the
// client's first line when it is light (first_lane_command); then it moves to
// the pool. A new client's first reply never waits behind the pool's busy
// connections (the load test's probe: a `status` under a flood).
enum class Lane : uint8_t { kFirst, kPool };

// A first line the first lane runs itself: work that does not grow with the
// machine (no render of a per-CPU or per-pageblock file, no replay, state or
// check of the whole machine, no long list of blocks). Others move to the
// pool before they run.
bool first_lane_command(const Command& command) {
  constexpr uint64_t kFewBlocks = 64;
  if (std::holds_alternative<StatusCommand>(command) ||
      std::holds_alternative<HelpCommand>(command) ||
      std::holds_alternative<SysctlCommand>(command)) {
    return true;
  }
  if (const auto* a = std::get_if<AllocCommand>(&command)) {
    return a->count_or_default() <= kFewBlocks;
  }
  if (const auto* f = std::get_if<FreeCommand>(&command)) {
    return !f->all && f->targets.size() <= kFewBlocks;
  }
  if (const auto* show = std::get_if<ShowCommand>(&command)) {
    // Files whose size grows with nodes and zones only.
    static constexpr std::array<std::string_view, 6> kSmall = {
        "buddyinfo", "pagetypeinfo", "vmstat", "meminfo", "extfrag_index", "unusable_index"};
    return std::find(kSmall.begin(), kSmall.end(), show->file) != kSmall.end();
  }
  return false;
}

struct SocketServer::Impl {
  class Connection;

  Impl(Service* s, int fd, SocketServerOptions o)
      : service(s), options(std::move(o)), acceptor(first_io), retry_timer(first_io) {
    boost::system::error_code ec;
    acceptor.assign(Stream(), fd, ec);
    if (ec) {
      log::err("socket: cannot use descriptor {}: {}", fd, ec.message());
      ::close(fd);
    }
  }

  void accept();
  // A reply of `bytes` that `connection` could not send at once, until release(id).
  // Drops the connections that took nothing of their replies for longest while the total is too
  // high.
  uint64_t hold(const std::shared_ptr<Connection>& connection, size_t bytes) EXCLUDES(held_mu);
  void release(uint64_t id) EXCLUDES(held_mu);
  // The client of held reply `id` took some more of it.
  void progress(uint64_t id) EXCLUDES(held_mu);
  // Whether the pool takes a new connection now (and counts it joining): not
  // while twice its threads have joined and not yet run their first lines
  // there (it is busy), nor while the held replies being dropped exceed
  // max_held_reply_bytes (it has not yet run the drops). A
  // flood of new connections then waits on the first lane, in turn, costing
  // nothing, instead of queueing work and replies in the pool; first lines
  // the first lane runs itself are answered meanwhile.
  bool try_join() EXCLUDES(held_mu) REQUIRES(wait_mu);
  // Moves waiting connections to the pool while it takes them (a connection
  // that joined ran its first lines, a held reply went, or every kAdmitEvery).
  void admit() EXCLUDES(wait_mu);
  void wait_to_join(std::shared_ptr<Connection> connection) EXCLUDES(wait_mu);
  void tick();
  void start() {
    accept();
    tick();
    threads.emplace_back([this] { run(first_io); });
    for (int i = 0; i < options.threads; ++i) {
      threads.emplace_back([this] { run(io); });
    }
  }
  static void run(asio::io_context& context) {
    for (;;) {
      try {
        context.run();
        return;
      } catch (const std::exception& e) {  // a handler threw: log it, serve on
        log::err("socket: {}", e.what());
      }
    }
  }
  void stop() {
    if (threads.empty()) return;
    first_io.stop();
    io.stop();
    for (std::thread& t : threads) {
      t.join();
    }
    threads.clear();
    boost::system::error_code ec;
    acceptor.close(ec);
    // Connections waiting to join the pool go while their io_context is still there.
    std::deque<std::shared_ptr<Connection>> gone;
    {
      MutexLock lock(&wait_mu);
      gone.swap(waiting);
    }
  }

  // A reply waiting for its client to read it.
  struct Held {
    std::weak_ptr<Connection> connection;
    size_t bytes = 0;
    std::chrono::steady_clock::time_point progress;  // when the client last took some of it
    bool dropping = false;  // its connection is asked to go: no longer counted
  };

  // Connections refer to these while the io_contexts destroy them: they go last.
  Service* service;
  const SocketServerOptions options;
  std::atomic<int> clients{0};
  Mutex wait_mu;
  int joining GUARDED_BY(wait_mu) = 0;  // moved to the pool, not yet run a line there
  std::deque<std::shared_ptr<Connection>> waiting GUARDED_BY(wait_mu);  // to join, in turn
  Mutex held_mu;
  std::map<uint64_t, Held> held GUARDED_BY(held_mu);  // by id: oldest first
  size_t held_bytes GUARDED_BY(held_mu) = 0;          // of those not dropping
  size_t held_all GUARDED_BY(held_mu) = 0;            // of all, until their connection is gone
  uint64_t next_held GUARDED_BY(held_mu) = 1;
  asio::io_context io;        // the pool: options.threads threads
  asio::io_context first_io;  // the first lane: one thread
  // The pool has no work of its own until a connection moves there: run() would return at once.
  asio::executor_work_guard<asio::io_context::executor_type> pool_work = asio::make_work_guard(io);
  Stream::acceptor acceptor;
  asio::steady_timer retry_timer;
  asio::steady_timer admit_timer{first_io};
  std::vector<std::thread> threads;
};

// One client connection: reads lines, runs them, writes the replies, reads on.
// Its handlers run on the socket's strand, one at a time, so its members need no lock.
class SocketServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  // The most lines run, and about the most reply bytes queued, before one
  // write: a client that pipelines gets one send per batch, and others their
  // turn between batches.
  static constexpr size_t kBatchLines = 64;
  static constexpr size_t kBatchReplyBytes = 64 * 1024;
  // Waiting connections are looked at at least this often.
  static constexpr std::chrono::milliseconds kAdmitEvery{100};

  Connection(Impl* server, Stream::socket socket, Lane lane,
             std::unique_ptr<Client> client = std::make_unique<Client>(),
             std::unique_ptr<asio::streambuf> in = nullptr)
      : server_(server),
        lane_(lane),
        socket_(std::move(socket)),
        reply_timer_(socket_.get_executor()),
        line_timer_(socket_.get_executor()),
        in_(in ? std::move(in) : std::make_unique<asio::streambuf>(kMaxCommandBytes)),
        client_(std::move(client)) {
    ++server_->clients;
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);  // send() writes what the socket takes at once, synchronously
  }
  ~Connection() {
    joined();
    if (client_) server_->service->disconnect(client_.get());
    --server_->clients;
  }

  void start() {
    if (server_->clients > server_->options.max_clients) {
      log_refused_connection(log::Level::kWarning,
                             fmt::format("socket: refusing a client: {} connections already",
                                         server_->options.max_clients),
                             std::nullopt);
      return send(Reply::error(Failure::kBusy, fmt::format("too many clients ({}); try again later",
                                                           server_->options.max_clients)),
                  true);
    }
    Peer peer = check_peer(socket_.native_handle(), server_->options);
    if (!peer.allowed) {
      log_refused_connection(
          log::Level::kNotice,
          fmt::format("socket: refused pid {} uid {}: {}", peer.pid, peer.uid, peer.refusal),
          log::Peer{peer.uid, peer.pid});
      return send(Reply::error(Failure::kDenied, peer.refusal), true);
    }
    client_->origin = Client::Origin::kSocket;
    client_->uid = peer.uid;
    client_->comm = process_comm(peer.pid);
    client_->pid = peer.pid;
    resume();
  }

  // Serving the connection from here on (after start(), or moved to the pool).
  void resume() {
    arm_line_timer(0, 0);
    read_line();
  }

  Stream::socket::executor_type executor() { return socket_.get_executor(); }

  // Closes the connection if reply `id` still waits for the client: it does
  // not read (reply_timeout), or memd holds too much for slow readers.
  void drop(uint64_t id, std::string_view why) {
    if (id == 0 || id != held_) return;  // that reply was read meanwhile
    log::warning("socket: dropping pid {} uid {}: {}", client_->pid, client_->uid, why);
    boost::system::error_code ignored;
    socket_.close(ignored);  // the write ends with an error; the connection goes with it
  }

 private:
  // What run_line() leaves to do.
  enum class Next : uint8_t {
    kLine,   // its reply is queued: on with the next line
    kWait,   // the line reads the raw bytes that follow it, or moved to the pool: nothing to do
    kClose,  // its reply is queued and ends the connection
    kFlushFirst,  // the line reads raw bytes: not run until the replies before it are out
  };

  // A connection that joined the pool has run its first lines there, or waits for them.
  void joined() {
    if (!joining_) return;
    joining_ = false;
    {
      MutexLock lock(&server_->wait_mu);
      --server_->joining;
    }
    server_->admit();
  }

  void read_line() {
    joined();
    // A 64 KiB line leaves a 64 KiB buffer: give it back once it is empty.
    if (in_->size() == 0 && in_->capacity() > 4096) {
      in_ = std::make_unique<asio::streambuf>(kMaxCommandBytes);
    }
    reading_ = true;
    asio::async_read_until(socket_, *in_, '\n',
                           [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                             self->on_line(ec, n);
                           });
  }

  // Every line_timeout for the connection's life (the timer holds it weakly):
  // a partial line that has not grown since the last look, while memd waits
  // for the rest, is a stalled sender, dropped like a stalled reader.
  void arm_line_timer(uint64_t line, size_t seen) {
    line_timer_.expires_after(server_->options.line_timeout);
    line_timer_.async_wait([weak = weak_from_this(), line, seen](boost::system::error_code tec) {
      auto self = weak.lock();
      if (tec || !self) return;  // the connection is gone
      if (self->holds_replay_silently(std::chrono::steady_clock::now())) {
        return self->drop_silent_replayer();
      }
      const size_t now = self->reading_ ? self->in_->size() : 0;
      if (now == 0 || now != seen || line != self->line_) {
        return self->arm_line_timer(self->line_, now);
      }
      log::warning(
          "socket: dropping pid {} uid {}: it sent {} bytes of a line, then nothing for {} ms",
          self->client_->pid, self->client_->uid, now, self->server_->options.line_timeout.count());
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
  }

  // Whether the client holds the running replay, memd waits for it, and it
  // has sent nothing for replay_idle_timeout.
  bool holds_replay_silently(std::chrono::steady_clock::time_point now) {
    return client_->replay_session != 0 && (reading_ || reading_frame_) &&
           now - heard_ >= server_->options.replay_idle_timeout &&
           server_->service->owns_replay(client_.get());
  }

  // Closes the connection: Service::disconnect rolls its replay back.
  void drop_silent_replayer() {
    log::warning(
        "socket: dropping pid {} uid {}: it holds the running replay and sent nothing for "
        "{} ms",
        client_->pid, client_->uid, server_->options.replay_idle_timeout.count());
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  void on_line(boost::system::error_code ec, size_t n) {
    reading_ = false;
    heard_ = std::chrono::steady_clock::now();
    ++line_;
    if (ec == asio::error::not_found) return refuse_long_line();
    if (ec) return;  // the client went away (or memd is stopping)
    run_lines(n);
  }

  // Runs the line of `n` bytes at the front of in_, then each complete line
  // the client has sent already (pipelined) up to kBatchLines or
  // kBatchReplyBytes, and writes their replies with one send. A line that
  // announces raw bytes starts a batch of its own, so that the replies before
  // it are out before memd waits for its bytes.
  void run_lines(size_t n) {
    for (size_t lines = 1;; ++lines) {
      const Next next = run_line(n);
      if (next == Next::kWait) return;
      if (next == Next::kClose) return flush(true);
      if (next == Next::kFlushFirst || lane_ == Lane::kFirst || payload_ || lines == kBatchLines ||
          out_.size() >= kBatchReplyBytes) {
        break;
      }
      n = buffered_line();
      if (n == 0) break;
    }
    flush(false);
  }

  std::string_view buffered() const {
    return {static_cast<const char*>(in_->data().data()), in_->size()};
  }

  // The length of the complete line at the front of in_, its newline
  // included; 0 if there is none yet.
  size_t buffered_line() const {
    const std::string_view b = buffered();
    const size_t nl = b.find('\n');
    return nl == std::string_view::npos ? 0 : nl + 1;
  }

  Next run_line(size_t n) {
    const std::string_view line = buffered().substr(0, n);
    auto command = parse_command(line);
    if (!command) {
      log_bad_line(line, client_.get(), command.error().message);
      // A bad `replay data` or `snapshot load` line announces bytes that cannot be skipped safely.
      const bool frame = announces_raw_bytes(line);
      queue(Reply::error(Failure::kBadInput,
                         command.error().message + (frame ? "; closing the connection" : "")));
      in_->consume(n);
      return frame ? Next::kClose : Next::kLine;
    }
    if (lane_ == Lane::kFirst && !first_lane_command(*command)) {
      move_to_pool();  // the line stays in in_: the pool runs it
      return Next::kWait;
    }
    auto* replay = std::get_if<ReplayCommand>(&*command);
    auto* snapshot = std::get_if<SnapshotCommand>(&*command);
    const bool frame = replay && replay->op == ReplayCommand::Op::kData;
    const bool state = snapshot && snapshot->op == SnapshotCommand::Op::kLoad;
    if ((frame || state) && !out_.empty()) return Next::kFlushFirst;  // the line stays in in_
    in_->consume(n);
    if (frame) {
      read_frame(replay->bytes);
      return Next::kWait;
    }
    if (state) {
      read_snapshot(snapshot->bytes);
      return Next::kWait;
    }
    if (auto payload = server_->service->run_into(*command, client_.get(), &out_)) {
      payload_ = std::move(payload);  // `snapshot save`: the state, right after
    }
    return Next::kLine;
  }

  // Serves the connection from the pool from now on: its socket, what it
  // sent and its Client (the Service knows it by address) go to a new
  // Connection on a strand of the pool; this one ends.
  void move_to_pool() { server_->wait_to_join(shared_from_this()); }

 public:
  // Admitted by the pool (Impl::try_join): moves there.
  void join_pool() {
    boost::system::error_code ec;
    const int fd = socket_.release(ec);
    if (ec) {
      log::warning("socket: pid {}: cannot move the connection: {}", client_->pid, ec.message());
      return;
    }
    Stream::socket moved(asio::make_strand(server_->io));
    moved.assign(Stream(), fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    auto next = std::make_shared<Connection>(server_, std::move(moved), Lane::kPool,
                                             std::move(client_), std::move(in_));
    next->joining_ = true;
    asio::post(next->executor(), [next] { next->resume(); });
  }

 private:
  // kMaxCommandBytes without a newline: an error that names the limit and
  // shows how the line starts, logged; then memd hangs up, discarding the
  // rest of the line so that the client, still writing it, reads the reply.
  void refuse_long_line() {
    std::string start(buffered().substr(0, 48));
    for (char& c : start) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    const std::string why =
        fmt::format("line longer than {} bytes: '{}...' has no newline in its first {} bytes",
                    kMaxCommandBytes, start, kMaxCommandBytes);
    log::warning("socket: pid {} uid {}: {}; closing the connection", client_->pid, client_->uid,
                 why);
    send(Reply::error(Failure::kBadInput, why + "; closing the connection"), true);
  }

  // The N raw bytes after `replay data bytes=N`: what the line read already
  // buffered, then the rest. Applied only once complete.
  void read_frame(size_t bytes) {
    // Without the running replay a client's frame is skipped, never buffered:
    // connections cannot make memd hold 64 MiB each (a replay ended by
    // `reset` or `snapshot load` leaves its client's session stale).
    if (!server_->service->owns_replay(client_.get())) return skip_frame(bytes);
    read_raw(bytes, [self = shared_from_this()] {  // disconnected mid-frame: nothing applied
      Reply r = self->server_->service->replay_data(self->client_.get(), self->frame_);
      self->frame_.clear();
      self->frame_.shrink_to_fit();
      self->send(r, false);
    });
  }

  // Reads `bytes` raw bytes into frame_ (those already buffered first), then
  // runs `done`; never if the client goes away first. frame_ grows with what
  // arrives, 1 MiB at a time: announcing 64 MiB costs nothing until they come.
  template <typename Done>
  void read_raw(size_t bytes, Done done) {
    const size_t buffered = std::min(bytes, in_->size());
    frame_.resize(buffered);
    asio::buffer_copy(asio::buffer(frame_.data(), buffered), in_->data());
    in_->consume(buffered);
    read_more(bytes, std::move(done));
  }
  template <typename Done>
  void read_more(size_t bytes, Done done) {
    const size_t have = frame_.size();
    if (have == bytes) return done();
    frame_.resize(have + std::min<size_t>(bytes - have, 1 << 20));
    reading_frame_ = true;
    socket_.async_read_some(asio::buffer(frame_.data() + have, frame_.size() - have),
                            [self = shared_from_this(), bytes, have, done = std::move(done)](
                                boost::system::error_code ec, size_t n) mutable {
                              self->reading_frame_ = false;
                              self->heard_ = std::chrono::steady_clock::now();
                              if (ec) return;
                              self->frame_.resize(have + n);
                              self->read_more(bytes, std::move(done));
                            });
  }

  // The N raw bytes after `snapshot load bytes=N`, read only once the Service
  // admitted them (one load at a time, no more than a state can take); a
  // refusal closes the connection, since the bytes that follow are not read.
  void read_snapshot(size_t bytes) {
    Reply admitted = server_->service->begin_snapshot_load(client_.get(), bytes);
    if (!admitted.ok()) {
      admitted.json["error"] = admitted.error_message() + "; closing the connection";
      return send(admitted, true);
    }
    read_raw(bytes, [self = shared_from_this()] {  // gone mid-state: disconnect() ends the load
      Reply r = self->server_->service->snapshot_load(self->client_.get(), self->frame_);
      self->frame_.clear();
      self->frame_.shrink_to_fit();
      self->send(r, false);
    });
  }

  void skip_frame(size_t left) {
    const size_t buffered = std::min(left, in_->size());
    in_->consume(buffered);
    left -= buffered;
    if (left == 0) {  // the Service says why it was refused
      return send(server_->service->replay_data(client_.get(), std::string_view()), false);
    }
    socket_.async_read_some(
        asio::buffer(sink_.data(), std::min(left, sink_.size())),
        [self = shared_from_this(), left](boost::system::error_code ec, size_t n) {
          if (!ec) self->skip_frame(left - n);
        });
  }

  // The reply to a line, behind the replies queued before it.
  void queue(const Reply& reply) {
    if (out_.empty()) {
      out_ = reply.json_line();  // a large reply is not copied
    } else {
      out_ += reply.json_line();
    }
    if (reply.payload) payload_ = reply.payload;  // `snapshot save`: the state, right after
  }

  void send(const Reply& reply, bool close_after) {
    queue(reply);
    flush(close_after);
  }

  // Writes the queued replies, then reads the next line (or hangs up). What
  // the socket takes at once is written at once; the rest waits, held, until
  // the client reads it, or is dropped with the connection (Impl::hold,
  // reply_timeout).
  void flush(bool close_after) {
    joined();
    const size_t total = out_.size() + (payload_ ? payload_->size() : 0);
    boost::system::error_code ec;
    size_t n = socket_.write_some(unsent(0), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
      n = 0;
    }
    if (ec) return payload_.reset();  // the client went away
    if (n == total) return sent(close_after);
    // All of it stays allocated until the client has read the rest.
    held_ = server_->hold(shared_from_this(), out_.capacity() + total - out_.size());
    arm_reply_timer();
    write_rest(n, total, close_after);
  }

  // The client has reply_timeout to take more of the held reply, each time.
  void arm_reply_timer() {
    reply_timer_.expires_after(server_->options.reply_timeout);
    reply_timer_.async_wait([self = shared_from_this(), id = held_](boost::system::error_code tec) {
      if (tec) return;  // more went out, the reply went out, or the connection closed first
      self->drop(id, fmt::format("it took nothing of its reply for {} ms",
                                 self->server_->options.reply_timeout.count()));
    });
  }

  // Writes what the client takes of the held reply, piece by piece; each
  // piece taken counts as progress (a large reply to a client that reads is
  // never cut off).
  void write_rest(size_t done, size_t total, bool close_after) {
    socket_.async_write_some(unsent(done), [self = shared_from_this(), done, total, close_after](
                                               boost::system::error_code wec, size_t n) mutable {
      done += n;
      if (wec || done == total) {
        self->server_->release(self->held_);
        self->held_ = 0;
        self->reply_timer_.cancel();
        if (wec) return self->payload_.reset();
        return self->sent(close_after);
      }
      self->server_->progress(self->held_);
      self->arm_reply_timer();
      self->write_rest(done, total, close_after);
    });
  }

  // What is left to write of out_ and payload_ after the first `done` bytes.
  std::array<asio::const_buffer, 2> unsent(size_t done) const {
    const size_t line = std::min(done, out_.size());
    return {asio::buffer(out_) + line,
            payload_ ? asio::buffer(*payload_) + (done - line) : asio::const_buffer()};
  }

  void sent(bool close_after) {
    payload_.reset();
    out_.clear();
    if (out_.capacity() > 16 * 1024) out_.shrink_to_fit();
    if (close_after) return hang_up();
    if (lane_ == Lane::kFirst) return move_to_pool();
    read_line();
  }

  // Ends the conversation after a last reply without resetting it: stop
  // sending, then discard the rest of the client's current line (kMaxDrainBytes
  // and 2 s at most: an oversized line goes on past kMaxCommandBytes), so that
  // its last write does not fail and it reads the reply.
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
      if (ec || end_of_line || discarded + n > kMaxDrainBytes) {
        boost::system::error_code ignored;
        self->timer_->cancel();
        self->socket_.close(ignored);
        return;
      }
      self->drain(discarded + n);
    });
  }

  Impl* server_;
  const Lane lane_;
  Stream::socket socket_;
  std::unique_ptr<asio::steady_timer> timer_;
  asio::steady_timer reply_timer_;  // reply_timeout for the reply held
  asio::steady_timer line_timer_;   // line_timeout for a partial line
  uint64_t line_ = 0;               // lines read
  bool reading_ = false;            // waiting for the rest of a line
  bool reading_frame_ = false;      // waiting for more of a replay frame
  // When the client last sent something memd read (a line, part of a frame).
  std::chrono::steady_clock::time_point heard_ = std::chrono::steady_clock::now();
  bool joining_ = false;  // counted in Impl::joining
  std::array<char, 4096> sink_{};
  std::unique_ptr<asio::streambuf> in_;
  std::string frame_;
  std::string out_;
  std::shared_ptr<const std::string> payload_;
  uint64_t held_ = 0;  // the Impl::hold() id of the reply while it waits for the client; 0 if none
  std::unique_ptr<Client> client_;  // the Service knows it by address; null once moved
};

bool SocketServer::Impl::try_join() {
  if (joining >= 2 * options.threads) return false;
  {
    MutexLock lock(&held_mu);
    if (held_all - held_bytes > options.max_held_reply_bytes) return false;
  }
  ++joining;
  return true;
}

void SocketServer::Impl::wait_to_join(std::shared_ptr<Connection> connection) {
  {
    MutexLock lock(&wait_mu);
    if (!waiting.empty() || !try_join()) {
      waiting.push_back(std::move(connection));
      return;
    }
  }
  connection->join_pool();  // on its strand already
}

void SocketServer::Impl::admit() {
  for (;;) {
    std::shared_ptr<Connection> next;
    {
      MutexLock lock(&wait_mu);
      if (waiting.empty() || !try_join()) return;
      next = std::move(waiting.front());
      waiting.pop_front();
    }
    asio::post(next->executor(), [next] { next->join_pool(); });
  }
}

void SocketServer::Impl::tick() {
  admit();
  admit_timer.expires_after(Connection::kAdmitEvery);
  admit_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

uint64_t SocketServer::Impl::hold(const std::shared_ptr<Connection>& connection, size_t bytes) {
  std::vector<std::pair<std::shared_ptr<Connection>, uint64_t>> victims;
  uint64_t id = 0;
  size_t total = 0;
  {
    MutexLock lock(&held_mu);
    const auto now = std::chrono::steady_clock::now();
    id = next_held++;
    held.emplace(id, Held{connection, bytes, now, false});
    held_bytes += bytes;
    held_all += bytes;
    total = held_bytes;
    // Those that have taken nothing for longest first, and only clients idle
    // for a while: one that reads a large reply as it goes is not dropped.
    if (held_bytes > options.max_held_reply_bytes) {
      std::vector<std::map<uint64_t, Held>::iterator> stalled;
      for (auto it = held.begin(); it != held.end(); ++it) {
        if (it->first != id && !it->second.dropping && now - it->second.progress >= kStalled) {
          stalled.push_back(it);
        }
      }
      std::sort(stalled.begin(), stalled.end(), [](const auto& a, const auto& b) {
        return a->second.progress < b->second.progress;
      });
      for (auto it : stalled) {
        if (held_bytes <= options.max_held_reply_bytes) break;
        it->second.dropping = true;
        held_bytes -= it->second.bytes;
        if (auto c = it->second.connection.lock()) victims.emplace_back(std::move(c), it->first);
      }
    }
  }
  for (auto& v : victims) {
    asio::post(v.first->executor(), [victim = v.first, victim_id = v.second, total, this] {
      victim->drop(victim_id,
                   fmt::format("{} MiB of replies wait for clients that do not read "
                               "them (limit {} MiB); its client took nothing for longest",
                               total >> 20, options.max_held_reply_bytes >> 20));
    });
  }
  return id;
}

void SocketServer::Impl::progress(uint64_t id) {
  MutexLock lock(&held_mu);
  if (auto it = held.find(id); it != held.end()) {
    it->second.progress = std::chrono::steady_clock::now();
  }
}

void SocketServer::Impl::release(uint64_t id) {
  if (id == 0) return;
  {
    MutexLock lock(&held_mu);
    auto it = held.find(id);
    if (it == held.end()) return;
    if (!it->second.dropping) held_bytes -= it->second.bytes;
    held_all -= it->second.bytes;
    held.erase(it);
  }
  admit();
}

void SocketServer::Impl::accept() {
  // Each connection's socket runs its handlers on its own strand: never two at once.
  acceptor.async_accept(
      asio::make_strand(first_io), [this](boost::system::error_code ec, Stream::socket socket) {
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
        // start() on the connection's strand too: from this handler
        // (the acceptor's) its first read could complete on another
        // thread while start() still arms the read's line timer.
        auto connection = std::make_shared<Connection>(this, std::move(socket), Lane::kFirst);
        asio::dispatch(connection->executor(), [connection] { connection->start(); });
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

int SocketServer::connections() const {
  return impl_->clients.load();
}

}  // namespace memd
