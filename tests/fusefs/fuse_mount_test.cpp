// The adapter on a real mount, serving the fake backend: skipped without
// root or /dev/fuse. The mount is always taken down (FuseMount's destructor),
// also when an assertion fails half-way.
#include "fusefs/fuse_mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
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
    mount_.reset();  // stops the loop and unmounts
    if (!dir_.empty()) {
      rmdir((dir_ + "/mnt").c_str());
      rmdir(dir_.c_str());
    }
  }
  std::string at(const std::string& path) const { return dir_ + "/mnt/" + path; }

  FakeBackend backend_{sample_entries()};
  std::string dir_;
  std::unique_ptr<FuseMount> mount_;
};

TEST_F(FuseMountTest, ServesTheTreeAndItsCommandFiles) {
  backend_.set_text(1, "Node 0, zone   Normal  1 2 3\n");
  EXPECT_EQ(observe_from_child(at("")),
            "buddyinfo: Node 0, zone   Normal  1 2 3\n\n"
            "root: . .. control buddyinfo pagetypeinfo memory\n"
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

}  // namespace
}  // namespace memd::fusefs
