// SocketServer's hold on replies a client has not taken yet, with short
// timeouts: a client that reads a large reply steadily keeps it however long
// the whole takes; one that takes nothing is dropped after reply_timeout; a
// held reply that stalls is dropped first when the total is over the limit.
#include "daemon/socket_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace memd {
namespace {

using namespace std::chrono_literals;

class SocketServerTest : public ::testing::Test {
 protected:
  void start(SocketServerOptions options) {
    MachineConfig config;
    config.size = 256ULL << 20;
    config.cpus = 1024;  // `show zoneinfo` is then 360 KiB: far more than a socket buffer
    auto s = Service::boot(config);
    ASSERT_TRUE(s.ok());
    service_ = std::move(*s);
    addr_.sun_family = AF_UNIX;
    const int n = std::snprintf(addr_.sun_path + 1, sizeof(addr_.sun_path) - 1,
                                "memd-socket-server-test-%d", static_cast<int>(getpid()));
    addr_len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr_), addr_len_), 0);
    ASSERT_EQ(listen(fd, 16), 0);
    server_ = std::make_unique<SocketServer>(service_.get(), fd, options);
    server_->start();
  }
  void TearDown() override {
    server_.reset();
    service_.reset();
  }

  // A connected client with a small receive buffer, so that memd holds most
  // of a large reply.
  int connect_client() {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr_), addr_len_), 0);
    return fd;
  }
  static void send_line(int fd, const std::string& line) {
    ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  // Reads until the reply line is complete, `chunk` bytes every `pause`;
  // returns what came, or what came before memd hung up.
  static std::string read_reply(int fd, size_t chunk, std::chrono::milliseconds pause) {
    std::string got;
    std::string buf(chunk, '\0');
    while (got.empty() || got.back() != '\n') {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20'000) != 1) break;
      const ssize_t n = read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      got.append(buf.data(), static_cast<size_t>(n));
      std::this_thread::sleep_for(pause);
    }
    return got;
  }
  static bool hung_up(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5'000) != 1) return false;
    char c;
    return read(fd, &c, 1) == 0;
  }

  std::unique_ptr<Service> service_;
  std::unique_ptr<SocketServer> server_;
  sockaddr_un addr_{};
  socklen_t addr_len_ = 0;
};

TEST_F(SocketServerTest, AClientReadingSteadilyKeepsALargeReplyPastTheTimeout) {
  SocketServerOptions o;
  o.threads = 2;
  o.reply_timeout = 500ms;
  start(o);
  const int fd = connect_client();
  send_line(fd, "show zoneinfo\nstatus\n");
  // 360 KiB at 16 KiB every 40 ms: about 0.9 s in all, past reply_timeout.
  // memd's side of the socket (about 200 KiB) wakes its writer once half of
  // it is free, every 0.25 s at this pace: progress within the timeout.
  const auto t0 = std::chrono::steady_clock::now();
  std::string replies = read_reply(fd, 16 << 10, 40ms);
  EXPECT_GT(std::chrono::steady_clock::now() - t0, o.reply_timeout);
  const size_t end = replies.find('\n');
  ASSERT_NE(end, std::string::npos);
  EXPECT_GT(end, 300'000u);
  EXPECT_EQ(replies.rfind("{\"ok\":true,\"text\":\"Node 0, zone", 0), 0u);
  // ... and the connection goes on: the reply to `status` follows.
  replies.erase(0, end + 1);
  if (replies.empty()) replies = read_reply(fd, 4096, 0ms);
  EXPECT_EQ(replies.rfind("{\"ok\":true,", 0), 0u);
  EXPECT_EQ(replies.back(), '\n');
  close(fd);
}

TEST_F(SocketServerTest, AClientTakingNothingIsDroppedAfterTheTimeout) {
  SocketServerOptions o;
  o.threads = 2;
  o.reply_timeout = 300ms;
  start(o);
  const int fd = connect_client();
  send_line(fd, "show zoneinfo\n");
  std::this_thread::sleep_for(1s);  // takes nothing
  // What the socket took before memd gave up, then the end.
  const std::string got = read_reply(fd, 1 << 20, 0ms);
  EXPECT_LT(got.size(), 300'000u);
  EXPECT_TRUE(got.empty() || got.back() != '\n');
  close(fd);
}

TEST_F(SocketServerTest, OverTheLimitTheStalledClientGoesNotTheReadingOne) {
  SocketServerOptions o;
  o.threads = 2;
  o.max_held_reply_bytes = 600 << 10;  // room for one held zoneinfo, not two
  start(o);
  const int stalled = connect_client();
  send_line(stalled, "show zoneinfo\n");
  std::this_thread::sleep_for(300ms);  // memd holds its reply; it stalls
  const int reader = connect_client();
  send_line(reader, "show zoneinfo\n");
  const std::string reply = read_reply(reader, 16 << 10, 5ms);
  EXPECT_EQ(reply.back(), '\n') << reply.size();
  // The stalled one was dropped to make room.
  const std::string got = read_reply(stalled, 1 << 20, 0ms);
  EXPECT_TRUE(got.empty() || got.back() != '\n');
  close(stalled);
  close(reader);
}

// A line longer than kMaxCommandBytes (memctl free --id $(seq 10 8 258000)
// sent whole: 308 KB): memd answers with an error naming the limit and how
// the line starts, logs it, reads the rest of the line so that the client's
// write of it completes (no EPIPE), and closes the connection.
TEST_F(SocketServerTest, ALineOverTheLimitIsAnsweredWithTheLimitThenTheConnectionCloses) {
  SocketServerOptions o;
  o.threads = 2;
  start(o);
  std::string line = "free";
  for (int id = 10; id <= 258000; id += 8) {
    line += " id=" + std::to_string(id);
  }
  line += '\n';
  ASSERT_EQ(line.size(), 308611u);
  ::testing::internal::CaptureStderr();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr_), addr_len_), 0);
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "memd closed the connection after " << sent
                    << " bytes: " << std::strerror(errno);
    sent += static_cast<size_t>(n);
  }
  EXPECT_EQ(read_reply(fd, 4096, 0ms),
            "{\"ok\":false,\"error\":\"line longer than 65536 bytes: 'free id=10 id=18 id=26 id=34 "
            "id=42 id=50 id=58 i...' has no newline in its first 65536 bytes; closing the "
            "connection\",\"failure\":\"bad_input\"}\n");
  EXPECT_TRUE(hung_up(fd));
  close(fd);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find(fmt::format("socket: pid {} uid {}: line longer than 65536 bytes: 'free "
                                 "id=10 id=18 id=26 id=34 id=42 id=50 id=58 i...' has no newline "
                                 "in its first 65536 bytes; closing the connection\n",
                                 getpid(), getuid())),
            std::string::npos)
      << log;
}

// A partial line that stops growing is dropped after one to two line_timeouts
// (300 ms here); one that grows, byte by byte past the timeout, is served,
// and so is a connection that sent nothing for as long.
TEST_F(SocketServerTest, APartialLineThatStopsGrowingIsDropped) {
  SocketServerOptions o;
  o.threads = 2;
  o.line_timeout = 300ms;
  start(o);
  const int stalled = connect_client();
  const int slow = connect_client();
  const int idle = connect_client();
  send_line(stalled, "stat");
  const auto t0 = std::chrono::steady_clock::now();
  for (char c : std::string("status")) {  // 6 bytes, 150 ms apart: 900 ms in all
    send_line(slow, std::string(1, c));
    std::this_thread::sleep_for(150ms);
  }
  send_line(slow, "\n");
  EXPECT_EQ(read_reply(slow, 4096, 0ms).rfind("{\"ok\":true,", 0), 0u);
  EXPECT_TRUE(hung_up(stalled));
  EXPECT_GT(std::chrono::steady_clock::now() - t0, o.line_timeout);
  send_line(idle, "status\n");
  EXPECT_EQ(read_reply(idle, 4096, 0ms).rfind("{\"ok\":true,", 0), 0u);
  close(stalled);
  close(slow);
  close(idle);
}

// Reads until done(what came) holds, or 10 s passed; returns what came.
template <typename Done>
std::string read_until(int fd, Done done) {
  std::string got;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done(got)) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

std::string read_lines(int fd, size_t lines) {
  return read_until(fd, [lines](const std::string& got) {
    return static_cast<size_t>(std::count(got.begin(), got.end(), '\n')) >= lines;
  });
}

// A client that holds the running replay and then sends nothing for
// replay_idle_timeout is dropped, and its replay rolled back: the machine's
// state is as before it began. A silent client without a replay is kept.
TEST_F(SocketServerTest, ASilentReplayHolderIsDroppedAndItsReplayRolledBack) {
  SocketServerOptions o;
  o.threads = 2;
  o.line_timeout = 100ms;
  o.replay_idle_timeout = 400ms;
  start(o);
  const std::string before = service_->save_state();
  const int holder = connect_client();
  const int idle = connect_client();
  send_line(idle, "status\n");
  EXPECT_EQ(read_reply(idle, 4096, 0ms).rfind("{\"ok\":true,", 0), 0u);
  std::string frame;
  for (int i = 0; i < 64; ++i) {
    char line[160];
    std::snprintf(line, sizeof line,
                  "  bash-1 [000] .....   1.000002: mm_page_alloc: page=0000000000000000 "
                  "pfn=0x%x order=3 migratetype=0 gfp_flags=GFP_KERNEL\n",
                  0x100000 + 8 * i);
    frame += line;
  }
  send_line(holder,
            "replay begin\nreplay data bytes=" + std::to_string(frame.size()) + "\n" + frame);
  const std::string replies = read_lines(holder, 2);
  EXPECT_EQ(std::count(replies.begin(), replies.end(), '\n'), 2) << replies;
  EXPECT_NE(replies.find("\"lines\":64"), std::string::npos) << replies;
  EXPECT_EQ(service_->live_allocations(), 64u);  // premise: the frame changed the machine
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(hung_up(holder));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  for (int i = 0; i < 100 && service_->save_state() != before; ++i) {
    std::this_thread::sleep_for(20ms);  // the disconnect is handled after the hang-up
  }
  EXPECT_EQ(service_->save_state(), before);
  EXPECT_EQ(service_->live_allocations(), 0u);
  send_line(idle, "replay begin\n");  // the slot is free again; the idle client is still served
  EXPECT_EQ(read_reply(idle, 4096, 0ms), "{\"ok\":true}\n");
  close(holder);
  close(idle);
}

// 40 allocations and a status in one write: 41 replies, in order, the
// allocations' ids 1 to 40 as the Service hands them out, and the status
// after all of them.
TEST_F(SocketServerTest, PipelinedLinesAreAnsweredInOrder) {
  SocketServerOptions o;
  o.threads = 2;
  start(o);
  const int fd = connect_client();
  std::string batch;
  for (int i = 0; i < 40; ++i)
    batch += "alloc order=0 gfp=GFP_KERNEL\n";
  batch += "status\n";
  send_line(fd, batch);
  const std::string got = read_lines(fd, 41);
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = got.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(got.substr(at, nl - at));
  }
  ASSERT_EQ(lines.size(), 41u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(lines[static_cast<size_t>(i)].rfind(
                  fmt::format("{{\"ok\":true,\"allocations\":[{{\"id\":{},", i + 1), 0),
              0u)
        << lines[static_cast<size_t>(i)];
  }
  EXPECT_NE(lines[40].find("\"live_allocations\":40"), std::string::npos) << lines[40];
  close(fd);
}

// A line that announces raw bytes, pipelined behind another: the reply to
// the line before is sent before memd waits for the bytes (a client may wait
// for it before sending them), and the bytes are then read and answered.
TEST_F(SocketServerTest, RepliesBeforeALineOfRawBytesAreSentBeforeItsBytesAreAwaited) {
  SocketServerOptions o;
  o.threads = 2;
  start(o);
  const int fd = connect_client();
  send_line(fd, "status\nsnapshot load bytes=10\n");
  const std::string first = read_lines(fd, 1);
  EXPECT_EQ(first.rfind("{\"ok\":true,\"machine\":", 0), 0u) << first;
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1);
  send_line(fd, "0123456789");
  const std::string second = read_lines(fd, 1);
  EXPECT_EQ(second.rfind("{\"ok\":false,", 0), 0u) << second;  // not a state
  send_line(fd, "status\n");
  EXPECT_EQ(read_lines(fd, 1).rfind("{\"ok\":true,\"machine\":", 0), 0u);
  close(fd);
}

// `snapshot save` inside a pipelined batch: its state follows its line at
// once, and the replies of the lines after it follow the state.
TEST_F(SocketServerTest, ASnapshotInABatchIsFollowedByItsBytesThenTheNextReplies) {
  SocketServerOptions o;
  o.threads = 2;
  start(o);
  const int fd = connect_client();
  send_line(fd, "alloc order=0 gfp=GFP_KERNEL\nsnapshot save\nfree id=1\n");
  // The second line, `snapshot save`'s, says how many bytes follow it.
  size_t second = 0, end = 0, bytes = 0;
  std::string line;
  auto complete = [&](const std::string& got) {
    second = got.find('\n');
    end = second == std::string::npos ? std::string::npos : got.find('\n', second + 1);
    if (end == std::string::npos) return false;
    ++second;
    ++end;
    line = got.substr(second, end - second);
    const size_t at = line.find("\"bytes\":");
    if (at == std::string::npos) return true;  // not a snapshot's line: the test fails below
    bytes = std::stoul(line.substr(at + 8));
    return got.find('\n', end + bytes) != std::string::npos;
  };
  const std::string got = read_until(fd, complete);
  ASSERT_EQ(line.rfind("{\"ok\":true,", 0), 0u) << line;
  EXPECT_GT(bytes, 0u);
  ASSERT_GE(got.size(), end + bytes);
  const std::string after = got.substr(end + bytes);
  EXPECT_EQ(after.rfind("{\"ok\":true,\"freed\":[{\"id\":1,", 0), 0u) << after.substr(0, 200);
  close(fd);
}

}  // namespace
}  // namespace memd
