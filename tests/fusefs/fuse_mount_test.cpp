// The adapter on a real mount, serving the fake backend: skipped without
// root or /dev/fuse. The mount is always taken down (FuseMount's destructor),
// also when an assertion fails half-way.
#include "fusefs/fuse_mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/fusefs/fake_backend.h"

namespace memd::fusefs {
namespace {

using testing::FakeBackend;
using testing::sample_entries;

// The whole file, read in small pieces; "" and errno set on failure.
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

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  return names;
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
  EXPECT_EQ(slurp(at("buddyinfo")), "Node 0, zone   Normal  1 2 3\n");
  EXPECT_EQ(backend_.renders_of(1), 1);  // one render for the open, however many reads

  auto root = names_in(at(""));
  EXPECT_EQ(root, (std::vector<std::string>{".", "..", "control", "buddyinfo", "pagetypeinfo",
                                            "memory"}));
  EXPECT_EQ(names_in(at("memory")),
            (std::vector<std::string>{".", "..", "block_size_bytes", "memory0", "memory1"}));
  struct stat st {};
  ASSERT_EQ(stat(at("memory/memory0/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0644);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(stat(at("pagetypeinfo").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0400);
  ASSERT_EQ(stat(at("memory/memory1").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  EXPECT_EQ(slurp(at("control")), "help for 100\n");
  const int fd = ::open(at("memory/memory0/state").c_str(), O_RDWR | O_TRUNC);
  ASSERT_GE(fd, 0) << errno;
  EXPECT_EQ(::write(fd, "offline\n", 8), 8);
  char buf[64];
  ssize_t n = ::pread(fd, buf, sizeof(buf), 0);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "ok: offline\n");
  EXPECT_EQ(::write(fd, "bad\n", 4), -1);
  EXPECT_EQ(errno, EINVAL);
  n = ::pread(fd, buf, sizeof(buf), 0);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "error: no such command\n");
  ::close(fd);
  EXPECT_EQ(::open(at("buddyinfo").c_str(), O_WRONLY), -1);
}

}  // namespace
}  // namespace memd::fusefs
