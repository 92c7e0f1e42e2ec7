// libFuzzer target: the socket's framing (daemon/socket_server.cpp) end to
// end: the input is what one client writes on a connection (command lines,
// `replay data bytes=N` frames, oversized lines, a stream cut anywhere),
// sent to a real SocketServer on an abstract Unix socket while the replies
// are read. Checked: memd answers every complete command line with exactly
// one line of JSON, "ok" first, in order, and hangs up where the protocol says
// (an oversized line, a bad `replay data` line); the machine passes `check`
// after every connection.
//
// The server runs for the whole fuzzing session (its state carries over from
// one input to the next, as a long-running memd's does). Command lines that
// would name a file (replay file=, and verbs this target does not know) are
// replaced by `status` before sending: fuzzing must not make memd read files.
// So are `snapshot save` and `snapshot load` (their raw bytes are fuzzed by
// fuzz_command and fuzz_state), which keeps every reply one line of JSON.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <variant>

#include "daemon/command.h"
#include "daemon/service.h"
#include "daemon/socket_server.h"
#include "tests/fuzz/safe_commands.h"

namespace {

struct World {
  std::unique_ptr<memd::Service> service;
  std::unique_ptr<memd::SocketServer> server;
  sockaddr_un addr{};
  socklen_t addr_len = 0;
};

World* make_world() {
  auto* w = new World;
  memd::MachineConfig config;
  config.size = 64ULL << 20;
  auto s = memd::Service::boot(config);
  if (!s) std::abort();
  w->service = std::move(*s);
  // An abstract socket: nothing on disk to clean up.
  w->addr.sun_family = AF_UNIX;
  const int n = std::snprintf(w->addr.sun_path + 1, sizeof(w->addr.sun_path) - 1,
                              "memd-fuzz-socket-%d", static_cast<int>(getpid()));
  w->addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&w->addr), w->addr_len) != 0 ||
      listen(fd, 64) != 0) {
    std::perror("fuzz_socket: listening socket");
    std::abort();
  }
  w->server = std::make_unique<memd::SocketServer>(w->service.get(), fd,
                                                   memd::SocketServerOptions{2, 64, {}, ""});
  w->server->start();
  return w;
}

// What the client sends after the rewriting, and how many replies memd owes.
struct Plan {
  std::string bytes;
  size_t replies = 0;
};

// Cuts the input as the server does: lines of at most kMaxCommandBytes
// (newline included), each `replay data bytes=N` followed by N raw bytes.
Plan plan(std::string_view in) {
  Plan p;
  while (!in.empty()) {
    const std::string_view window = in.substr(0, memd::kMaxCommandBytes);
    const size_t nl = window.find('\n');
    if (nl == std::string_view::npos) {
      // Oversized: one error, then memd hangs up. Shorter: the stream ends mid-line.
      p.bytes += window;
      if (window.size() == memd::kMaxCommandBytes) ++p.replies;
      return p;
    }
    const std::string_view line = in.substr(0, nl + 1);
    in.remove_prefix(line.size());
    auto command = memd::parse_command(line);
    if (!command) {
      p.bytes += line;
      ++p.replies;
      // A bad line announcing raw bytes (the protocol's rule, tested in
      // tests/protocol: " snapshot  load x" is one, "snapshot loadx" is not):
      // memd hangs up.
      if (memd::announces_raw_bytes(line)) return p;
      continue;
    }
    if (auto* r = std::get_if<memd::ReplayCommand>(&*command);
        r && r->op == memd::ReplayCommand::Op::kData) {
      p.bytes += line;
      const size_t frame = std::min<size_t>(r->bytes, in.size());
      p.bytes += in.substr(0, frame);
      in.remove_prefix(frame);
      if (frame < r->bytes) return p;  // gone mid-frame: nothing owed
      ++p.replies;
      continue;
    }
    p.bytes += memd::fuzz::safe_to_run(*command, /*with_snapshot=*/false)
                   ? line
                   : std::string_view("status\n");
    ++p.replies;
  }
  return p;
}

// Sends `out` while reading replies (memd stops reading while its reply is
// not taken), then half-closes and reads to the end.
std::string converse(const World& w, const std::string& out) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) std::abort();
  if (connect(fd, reinterpret_cast<const sockaddr*>(&w.addr), w.addr_len) != 0 &&
      errno != EINPROGRESS && errno != EAGAIN) {
    std::perror("fuzz_socket: connect");
    std::abort();
  }
  std::string in;
  size_t sent = 0;
  bool half_closed = false;
  auto last_progress = std::chrono::steady_clock::now();
  char buf[65536];
  for (;;) {
    if (sent == out.size() && !half_closed) {
      shutdown(fd, SHUT_WR);
      half_closed = true;
    }
    pollfd pfd{fd, static_cast<short>(POLLIN | (half_closed ? 0 : POLLOUT)), 0};
    poll(&pfd, 1, 100);
    bool progress = false;
    if (!half_closed && (pfd.revents & POLLOUT)) {
      const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        progress = true;
      } else if (n < 0 && errno != EAGAIN) {
        half_closed = true;  // memd hung up on us (EPIPE): read what it said
      }
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        progress = true;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (progress) last_progress = now;
    if (now - last_progress > std::chrono::seconds(8)) {
      std::fprintf(stderr, "fuzz_socket: no progress for 8 s (sent %zu of %zu, got %zu)\n", sent,
                   out.size(), in.size());
      std::abort();
    }
  }
  close(fd);
  return in;
}

// Waits for the server to be done with the connection (its Client
// disconnected from the Service): `check` then sees the machine after the
// whole connection, and the connection's buffers are freed within the input
// that made them, not during the next one.
void wait_until_gone(const World& w) {
  const auto start = std::chrono::steady_clock::now();
  while (w.server->connections() != 0) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(8)) {
      std::fprintf(stderr, "fuzz_socket: the server kept the connection 8 s after it ended\n");
      std::abort();
    }
    std::this_thread::yield();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = make_world();
  const Plan p = plan(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string replies = converse(*world, p.bytes);
  wait_until_gone(*world);
  size_t count = 0;
  std::string_view rest = replies;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) std::abort();  // a reply cut short
    auto j = nlohmann::ordered_json::parse(rest.substr(0, nl), nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.empty() || j.begin().key() != "ok") std::abort();
    if (!j["ok"].is_boolean()) std::abort();
    rest.remove_prefix(nl + 1);
    ++count;
  }
  if (count != p.replies) {
    std::fprintf(stderr, "fuzz_socket: %zu replies, expected %zu\n", count, p.replies);
    std::abort();
  }
  memd::Client observer{memd::Client::Origin::kSocket, 0, 0};
  if (!world->service->execute("check", &observer).ok()) std::abort();
  return 0;
}
