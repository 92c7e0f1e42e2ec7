// The adapter on a real mount, serving the fake backend: skipped without
// root or /dev/fuse. The mount is always taken down (FuseMount's destructor),
// also when an assertion fails half-way. Whatever may wait on the mount runs
// in a child process: a process waiting on its own mount could not exit if
// the mount stopped answering (its request never answered, its exit never done).
#include "fusefs/fuse_mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/fusefs/fake_backend.h"

namespace memd::fusefs {
namespace {

using testing::FakeBackend;
using testing::sample_entries;

// The whole file, read in small pieces; "" on failure.
std::string slurp(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    return "";
  }
  std::string text;
  char buf[7];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

std::string names_in(const std::string& dir) {
  std::string names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      names += std::string(names.empty() ? "" : " ") + e->d_name;
    }
    closedir(d);
  }
  return names;
}

std::string mode_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return "error " + std::to_string(errno);
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%o size %lld", st.st_mode, static_cast<long long>(st.st_size));
  return buf;
}

// A write of `line` and the read of the same open file after it.
std::string write_then_read(int fd, std::string_view line) {
  const ssize_t w = ::write(fd, line.data(), line.size());
  std::string seen = w < 0 ? "error " + std::to_string(errno) : std::to_string(w);
  char buf[64];
  const ssize_t n = ::pread(fd, buf, sizeof(buf), 0);
  return seen + ", then '" + std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) + "'";
}

// What the mount at `mnt` shows, one "what: seen" line each, as a reader sees it.
std::string observe(const std::string& mnt) {
  std::string seen;
  auto note = [&seen](const std::string& what, const std::string& value) {
    seen += what + ": " + value + "\n";
  };
  note("buddyinfo", slurp(mnt + "/buddyinfo"));
  note("root", names_in(mnt));
  note("memory", names_in(mnt + "/memory"));
  note("memory0/state", mode_of(mnt + "/memory/memory0/state"));
  note("pagetypeinfo", mode_of(mnt + "/pagetypeinfo"));
  note("memory1", mode_of(mnt + "/memory/memory1"));
  note("control", slurp(mnt + "/control"));
  const int fd = ::open((mnt + "/memory/memory0/state").c_str(), O_RDWR | O_TRUNC);
  note("offline", write_then_read(fd, "offline\n"));
  note("bad", write_then_read(fd, "bad\n"));
  ::close(fd);
  note("write buddyinfo", ::open((mnt + "/buddyinfo").c_str(), O_WRONLY) < 0
                              ? "error " + std::to_string(errno)
                              : "opened");
  return seen;
}

// observe(mnt) in a child process: a process that waits on its own mount
// could never exit if it died meanwhile (its FUSE threads gone, its request
// never answered). The child's view comes back through a pipe; a child that
// takes longer than 20 s is killed.
std::string observe_from_child(const std::string& mnt) {
  int fds[2];
  if (pipe(fds) != 0) {
    return "pipe failed";
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const std::string seen = observe(mnt);
    _exit(::write(fds[1], seen.data(), seen.size()) == static_cast<ssize_t>(seen.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string seen;
  pollfd p{fds[0], POLLIN, 0};
  char buf[4096];
  ssize_t n = 1;
  while (n > 0 && poll(&p, 1, 20'000) == 1) {
    n = ::read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      seen.append(buf, static_cast<size_t>(n));
    }
  }
  close(fds[0]);
  if (n != 0) {
    kill(pid, SIGKILL);
    seen += "(timed out)\n";
  }
  waitpid(pid, nullptr, 0);
  return seen;
}

// What a child saw of the mount, sent back whole.
struct Seen {
  int open_error = 0;
  int poll_rc = -2;  // -2: it did not poll
  short revents = 0;
  ssize_t n = -2;  // -2: it did not read
  int error = 0;
  char data[64] = {};
};

// open(2) in a child; a failure is what it saw.
int open_in_child(const std::string& path, int flags, Seen* seen) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    seen->open_error = errno;
  }
  return fd;
}

class FuseMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs root and /dev/fuse";
    }
    char tmpl[] = "/tmp/fusefs-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    MountOptions options;
    options.mountpoint = dir_ + "/mnt";  // made by the adapter (no make_dirs given)
    options.max_threads = 2;
    std::string error;
    mount_ = FuseMount::mount(&backend_, options, &error);
    ASSERT_NE(mount_, nullptr) << error;
    mount_->start(nullptr);
  }
  void TearDown() override {
    for (const Child& c : children_) {
      if (c.pid > 0) {
        kill(c.pid, SIGKILL);  // any still waiting: an interrupt, answered
      }
    }
    mount_.reset();  // stops the loop and unmounts
    for (const Child& c : children_) {
      if (c.pid > 0) {
        waitpid(c.pid, nullptr, 0);
      }
      close(c.fd);
    }
    if (!dir_.empty()) {
      rmdir((dir_ + "/mnt").c_str());
      rmdir(dir_.c_str());
    }
  }
  std::string at(const std::string& path) const { return dir_ + "/mnt/" + path; }

  // Runs `what` in a child process, which may wait on the mount. Only
  // async-signal-safe calls there: it is the fork of a threaded process.
  size_t spawn(const std::function<void(Seen*)>& what) {
    int fds[2];
    if (pipe(fds) != 0) {
      ADD_FAILURE() << "pipe: " << strerror(errno);
      return 0;
    }
    const pid_t pid = fork();
    if (pid == 0) {
      // Keeps only stdio and the way back: a child holding this process's
      // /dev/fuse descriptor would keep the connection alive after the
      // unmount, its own close of a mount's file (a FLUSH) never answered.
      dup2(fds[1], 3);
      close_range(4, ~0U, 0);
      Seen seen;
      what(&seen);
      _exit(::write(3, &seen, sizeof(seen)) == sizeof(seen) ? 0 : 1);
    }
    close(fds[1]);
    children_.push_back({pid, fds[0]});
    return children_.size() - 1;
  }
  // What child `i` saw, as "poll 1 0x1, read 'x'" or "read error EINTR";
  // "(nothing came back)" if it sent nothing within 20 s.
  std::string seen_by(size_t i) {
    pollfd p{children_[i].fd, POLLIN, 0};
    Seen seen;
    if (poll(&p, 1, 20'000) != 1 || ::read(p.fd, &seen, sizeof(seen)) != sizeof(seen)) {
      return "(nothing came back)";
    }
    if (seen.open_error != 0) {
      return std::string("open error ") + strerrorname_np(seen.open_error);
    }
    std::string text;
    if (seen.poll_rc != -2) {
      char buf[32];
      snprintf(buf, sizeof(buf), "poll %d 0x%x", seen.poll_rc, seen.revents);
      text = buf;
    }
    if (seen.n != -2) {
      text += text.empty() ? "read " : ", read ";
      text += seen.n == -1 ? std::string("error ") + strerrorname_np(seen.error)
                           : "'" + std::string(seen.data, static_cast<size_t>(seen.n)) + "'";
    }
    return text;
  }
  // Whether child `i` has exited, waiting 20 s at most.
  bool exited(size_t i) {
    for (int ms = 0; ms < 20'000; ms += 5) {
      if (waitpid(children_[i].pid, nullptr, WNOHANG) == children_[i].pid) {
        children_[i].pid = -1;  // reaped: nothing for TearDown to kill
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  // Waits (20 s at most) until `ready` holds.
  static bool eventually(const std::function<bool()>& ready) {
    for (int ms = 0; ms < 20'000 && !ready(); ms += 5) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return ready();
  }

  struct Child {
    pid_t pid;
    int fd;  // what it saw comes through here
  };

  FakeBackend backend_{sample_entries()};
  std::string dir_;
  std::unique_ptr<FuseMount> mount_;
  std::vector<Child> children_;
};

TEST_F(FuseMountTest, ServesTheTreeAndItsCommandFiles) {
  backend_.set_text(1, "Node 0, zone   Normal  1 2 3\n");
  EXPECT_EQ(observe_from_child(at("")),
            "buddyinfo: Node 0, zone   Normal  1 2 3\n\n"
            "root: . .. control buddyinfo pagetypeinfo memory tracing\n"
            "memory: . .. block_size_bytes memory0 memory1\n"
            "memory0/state: 100644 size 0\n"
            "pagetypeinfo: 100400 size 0\n"
            "memory1: 40555 size 0\n"
            "control: help for 100\n\n"
            "offline: 8, then 'ok: offline\n'\n"
            "bad: error 22, then 'error: no such command\n'\n"
            "write buddyinfo: error 13\n");
  EXPECT_EQ(backend_.renders_of(1), 1);  // one render for the open, however many reads
  // control and memory0/state; the kernel sends a release after close(2) returns.
  for (int i = 0; i < 200 && backend_.closed_sessions().size() < 2; ++i) {
    usleep(10'000);
  }
  EXPECT_EQ(backend_.closed_sessions().size(), 2u);
}

// --- the pipe file ---------------------------------------------------------------------------

// A read of up to `size` bytes of the pipe, opened with `flags`.
std::function<void(Seen*)> read_of(const std::string& path, int flags = O_RDONLY,
                                   size_t size = 64) {
  return [&path, flags, size](Seen* seen) {
    const int fd = open_in_child(path, flags, seen);
    seen->n = fd < 0 ? -2 : ::read(fd, seen->data, std::min(size, sizeof(seen->data)));
    seen->error = errno;
  };
}

TEST_F(FuseMountTest, ABlockingReadOfThePipeReturnsTheBytesPushedLater) {
  const std::string pipe = at("tracing/trace_pipe");
  const size_t reader = spawn(read_of(pipe));
  ASSERT_TRUE(eventually([&] { return backend_.empty_pipe_reads() >= 1; }));
  backend_.push("hello\n");
  EXPECT_EQ(seen_by(reader), "read 'hello\n'");
  EXPECT_TRUE(eventually([&] { return backend_.closed_sessions().size() == 1; }));
  EXPECT_EQ(backend_.misuses(), 0);
  EXPECT_EQ(backend_.notifiers_set(), 1);
}

TEST_F(FuseMountTest, ANonblockingReadOfAnEmptyPipeFailsWithEagain) {
  const std::string pipe = at("tracing/trace_pipe");
  EXPECT_EQ(seen_by(spawn(read_of(pipe, O_RDONLY | O_NONBLOCK))), "read error EAGAIN");
  // Also when set after the open: the read sees the file's flags as they are.
  EXPECT_EQ(seen_by(spawn([&pipe](Seen* seen) {
              const int fd = open_in_child(pipe, O_RDONLY, seen);
              fcntl(fd, F_SETFL, O_NONBLOCK);
              seen->n = ::read(fd, seen->data, sizeof(seen->data));
              seen->error = errno;
            })),
            "read error EAGAIN");
  EXPECT_EQ(seen_by(spawn(read_of(pipe, O_WRONLY))), "open error EACCES");
  backend_.push("now\n");
  EXPECT_EQ(seen_by(spawn(read_of(pipe, O_RDONLY | O_NONBLOCK))), "read 'now\n'");
}

TEST_F(FuseMountTest, PollWakesWithPollinWhenDataIsPushed) {
  const std::string pipe = at("tracing/trace_pipe");
  const std::string buddyinfo = at("buddyinfo");
  auto poll_then_read = [](const std::string& path, short events) {
    return [&path, events](Seen* seen) {
      const int fd = open_in_child(path, O_RDONLY, seen);
      pollfd p{fd, events, 0};
      seen->poll_rc = poll(&p, 1, 20'000);
      seen->revents = p.revents;
      seen->n = ::read(fd, seen->data, sizeof(seen->data));
      seen->error = errno;
    };
  };
  const size_t poller = spawn(poll_then_read(pipe, POLLIN));
  ASSERT_TRUE(eventually([&] { return backend_.ready_calls() >= 1; }));
  backend_.push("data\n");
  EXPECT_EQ(seen_by(poller), "poll 1 0x1, read 'data\n'");
  // Other files are always ready, as on a file system without poll.
  EXPECT_EQ(seen_by(spawn(poll_then_read(buddyinfo, POLLIN | POLLOUT))),
            "poll 1 0x5, read 'file 1\n'");
}

// Like the kernel's trace_pipe, an interrupted wait fails with EINTR, and the
// kernel does not restart it even with SA_RESTART (FUSE answers EINTR, not
// ERESTARTSYS).
TEST_F(FuseMountTest, ASignalToABlockedReaderFailsTheReadWithEintr) {
  const std::string pipe = at("tracing/trace_pipe");
  for (const int flags : {0, SA_RESTART}) {
    const int before = backend_.empty_pipe_reads();
    const size_t reader = spawn([&pipe, flags](Seen* seen) {
      struct sigaction sa {};
      sa.sa_handler = [](int) {};
      sa.sa_flags = flags;
      sigaction(SIGUSR2, &sa, nullptr);
      const int fd = open_in_child(pipe, O_RDONLY, seen);
      seen->n = ::read(fd, seen->data, sizeof(seen->data));
      seen->error = errno;
    });
    ASSERT_TRUE(eventually([&] { return backend_.empty_pipe_reads() > before; }));
    kill(children_[reader].pid, SIGUSR2);
    EXPECT_EQ(seen_by(reader), "read error EINTR") << (flags ? "SA_RESTART" : "no SA_RESTART");
  }
  backend_.push("kept\n");  // no interrupted read took it
  EXPECT_EQ(seen_by(spawn(read_of(pipe, O_RDONLY | O_NONBLOCK))), "read 'kept\n'");
}

// `cat trace_pipe` killed while it waits: the kernel waits for the answer to
// the interrupt before the process can end, then releases the open.
TEST_F(FuseMountTest, AKilledReaderEndsAndItsOpenIsReleased) {
  const size_t reader = spawn(read_of(at("tracing/trace_pipe")));
  ASSERT_TRUE(eventually([&] { return backend_.empty_pipe_reads() >= 1; }));
  kill(children_[reader].pid, SIGKILL);
  EXPECT_TRUE(exited(reader));
  EXPECT_TRUE(eventually([&] { return backend_.closed_sessions().size() == 1; }));
  EXPECT_EQ(backend_.misuses(), 0);
}

// At the end of the mount, a waiting read gets end of file, so that `cat`
// ends cleanly, and a waiting poll wakes; the unmount does not wait for them.
TEST_F(FuseMountTest, UnmountingWithAReaderAndAPollerWaitingEndsThem) {
  const std::string pipe = at("tracing/trace_pipe");
  const size_t reader = spawn(read_of(pipe));
  const size_t poller = spawn([&pipe](Seen* seen) {
    const int fd = open_in_child(pipe, O_RDONLY, seen);
    pollfd p{fd, POLLIN, 0};
    seen->poll_rc = poll(&p, 1, 20'000);
    seen->revents = p.revents;
  });
  ASSERT_TRUE(eventually([&] { return backend_.empty_pipe_reads() >= 1; }));
  ASSERT_TRUE(eventually([&] { return backend_.ready_calls() >= 1; }));
  mount_.reset();
  EXPECT_EQ(seen_by(reader), "read ''");
  EXPECT_EQ(seen_by(poller), "poll 1 0x8");  // POLLERR: the connection is gone
}

// Waiting reads hold no FUSE worker thread: with more of them than threads,
// other files are still served; and the data goes to them in arrival order.
TEST_F(FuseMountTest, ManyWaitingReadersHoldNoWorkerThread) {
  const std::string pipe = at("tracing/trace_pipe");
  constexpr int kReaders = 6;  // the mount has 2 threads
  std::vector<size_t> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.push_back(spawn(read_of(pipe, O_RDONLY, 1)));
    ASSERT_TRUE(eventually([&] { return backend_.empty_pipe_reads() > i; }));
  }
  EXPECT_EQ(seen_by(spawn(read_of(at("buddyinfo")))), "read 'file 1\n'");
  backend_.push("abcdef");
  std::string seen;
  for (size_t reader : readers) {
    seen += seen_by(reader) + " ";
  }
  EXPECT_EQ(seen, "read 'a' read 'b' read 'c' read 'd' read 'e' read 'f' ");
  EXPECT_EQ(backend_.pipe_left(), "");
}

}  // namespace
}  // namespace memd::fusefs
