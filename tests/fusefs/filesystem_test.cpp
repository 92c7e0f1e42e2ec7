// The adapter's logic (fusefs/filesystem.h) against a fake backend: no
// libfuse, no mount, no root.
#include "fusefs/filesystem.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/fusefs/fake_backend.h"

namespace memd::fusefs {
namespace {

using testing::FakeBackend;
using testing::sample_entries;

constexpr uid_t kOwner = 1000;
constexpr uid_t kOther = 2000;

// Inodes of sample_entries(), in the table's order with the directories on the way.
constexpr Ino kControl = 2, kBuddyinfo = 3, kPagetypeinfo = 4, kMemory = 5, kBlockSize = 6,
              kMemory0 = 7, kState0 = 8, kPhysIndex0 = 9, kMemory1 = 10, kState1 = 11;

struct Logged {
  LogLevel level;
  std::string line;
};

class FilesystemTest : public ::testing::Test {
 protected:
  explicit FilesystemTest(Limits limits = {})
      : backend_(sample_entries()),
        fs_(
            &backend_, Owner{kOwner, kOwner, {}},
            [this](LogLevel level, std::string_view line) {
              logged_.push_back({level, std::string(line)});
            },
            limits) {}

  // All that one read of `size` at `off` returns.
  std::string read(OpenFile* f, size_t size = 4096, off_t off = 0) {
    return fs_.read(f, size, off, [](const char* data, size_t n) { return std::string(data, n); });
  }
  OpenFile* open_ok(Ino ino, uid_t uid = kOwner, int flags = O_RDONLY) {
    Filesystem::Opened opened = fs_.open(ino, flags, Caller{uid, uid, 1});
    EXPECT_EQ(opened.error, 0) << "inode " << ino;
    return opened.file;
  }
  int open_error(Ino ino, uid_t uid = kOwner, int flags = O_RDONLY) {
    Filesystem::Opened opened = fs_.open(ino, flags, Caller{uid, uid, 1});
    if (opened.file) {
      fs_.release(opened.file);
    }
    return opened.error;
  }
  Ino lookup(Ino parent, const char* name) {
    struct stat st {};
    return fs_.lookup(parent, name, &st) == 0 ? st.st_ino : 0;
  }

  FakeBackend backend_;
  std::vector<Logged> logged_;
  Filesystem fs_;
};

TEST_F(FilesystemTest, NumbersInodesInTheTablesOrderWithDirectoriesOnTheWay) {
  EXPECT_EQ(fs_.inode_count(), 11u);
  EXPECT_EQ(fs_.node(kRootIno)->name, "");
  EXPECT_EQ(fs_.node(kControl)->path, "control");
  EXPECT_EQ(fs_.node(kBuddyinfo)->path, "buddyinfo");
  EXPECT_EQ(fs_.node(kPagetypeinfo)->path, "pagetypeinfo");
  EXPECT_EQ(fs_.node(kMemory)->path, "memory");
  EXPECT_EQ(fs_.node(kBlockSize)->path, "memory/block_size_bytes");
  EXPECT_EQ(fs_.node(kMemory0)->path, "memory/memory0");
  EXPECT_EQ(fs_.node(kState0)->path, "memory/memory0/state");
  EXPECT_EQ(fs_.node(kPhysIndex0)->path, "memory/memory0/phys_index");
  EXPECT_EQ(fs_.node(kMemory1)->path, "memory/memory1");
  EXPECT_EQ(fs_.node(kState1)->path, "memory/memory1/state");
  EXPECT_EQ(fs_.node(0), nullptr);
  EXPECT_EQ(fs_.node(12), nullptr);
  EXPECT_EQ(fs_.node(kRootIno)->children,
            (std::vector<Ino>{kControl, kBuddyinfo, kPagetypeinfo, kMemory}));
  EXPECT_EQ(fs_.node(kMemory)->children, (std::vector<Ino>{kBlockSize, kMemory0, kMemory1}));
  EXPECT_EQ(fs_.node(kMemory0)->parent, kMemory);
  EXPECT_EQ(fs_.node(kMemory)->parent, kRootIno);
  EXPECT_EQ(fs_.node(kRootIno)->parent, kRootIno);
}

TEST_F(FilesystemTest, LooksUpInNestedDirectories) {
  EXPECT_EQ(lookup(kRootIno, "control"), kControl);
  EXPECT_EQ(lookup(kRootIno, "memory"), kMemory);
  EXPECT_EQ(lookup(kMemory, "memory0"), kMemory0);
  EXPECT_EQ(lookup(kMemory0, "state"), kState0);
  EXPECT_EQ(lookup(kMemory1, "state"), kState1);
  struct stat st {};
  EXPECT_EQ(fs_.lookup(kRootIno, "state", &st), ENOENT);  // only below memory/memoryN
  EXPECT_EQ(fs_.lookup(kMemory, "memory2", &st), ENOENT);
  EXPECT_EQ(fs_.lookup(kRootIno, "", &st), ENOENT);
  EXPECT_EQ(fs_.lookup(kBuddyinfo, "x", &st), ENOTDIR);
  EXPECT_EQ(fs_.lookup(99, "x", &st), ENOENT);
}

TEST_F(FilesystemTest, ModesAndAttributes) {
  struct stat st {};
  ASSERT_EQ(fs_.getattr(kRootIno, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0555);
  EXPECT_EQ(st.st_nlink, 3u);  // ".", its entry, memory/..
  EXPECT_EQ(st.st_uid, kOwner);
  EXPECT_EQ(st.st_ino, kRootIno);
  ASSERT_EQ(fs_.getattr(kMemory, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0555);
  EXPECT_EQ(st.st_nlink, 4u);
  ASSERT_EQ(fs_.getattr(kMemory0, &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(fs_.getattr(kControl, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_size, 0);  // like procfs: read until EOF
  ASSERT_EQ(fs_.getattr(kPagetypeinfo, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0400);
  ASSERT_EQ(fs_.getattr(kBuddyinfo, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0444);
  EXPECT_EQ(st.st_gid, kOwner);
  ASSERT_EQ(fs_.getattr(kState0, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0644);
  EXPECT_EQ(fs_.getattr(12, &st), ENOENT);
}

TEST_F(FilesystemTest, OnlyCommandFilesTakeATruncation) {
  struct stat st {};
  EXPECT_EQ(fs_.setattr(kControl, true, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600);
  EXPECT_EQ(fs_.setattr(kState1, true, &st), 0);
  EXPECT_EQ(fs_.setattr(kControl, false, &st), EPERM);  // chmod, chown
  EXPECT_EQ(fs_.setattr(kBuddyinfo, true, &st), EPERM);
  EXPECT_EQ(fs_.setattr(kRootIno, true, &st), EPERM);
  EXPECT_EQ(fs_.setattr(42, true, &st), ENOENT);
}

TEST(FilesystemTable, RefusesABadTable) {
  auto make = [](std::vector<Entry> entries) {
    FakeBackend backend(std::move(entries));
    Filesystem fs(&backend, Owner{}, nullptr);
  };
  EXPECT_THROW(make({{"a", Kind::kRendered}, {"a", Kind::kRendered}}), std::invalid_argument);
  EXPECT_THROW(make({{"a", Kind::kRendered}, {"a/b", Kind::kRendered}}), std::invalid_argument);
  EXPECT_THROW(make({{"", Kind::kRendered}}), std::invalid_argument);
  EXPECT_THROW(make({{"a//b", Kind::kRendered}}), std::invalid_argument);
  EXPECT_THROW(make({{"a/../b", Kind::kRendered}}), std::invalid_argument);
  EXPECT_THROW(make({{"/a", Kind::kRendered}}), std::invalid_argument);
  EXPECT_NO_THROW(make({{"d/x", Kind::kRendered}, {"d", Kind::kDirectory, 0500}}));
}

TEST(FilesystemTable, AListedDirectoryTakesItsMode) {
  FakeBackend backend(
      {{"d/x", Kind::kRendered}, {"d", Kind::kDirectory, 0500}, {"e", Kind::kDirectory, 0700}});
  Filesystem fs(&backend, Owner{}, nullptr);
  struct stat st {};
  ASSERT_EQ(fs.getattr(2, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0500);
  ASSERT_EQ(fs.getattr(4, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0700);
  EXPECT_EQ(fs.open(4, O_RDONLY, Caller{}).error, EISDIR);
}

TEST_F(FilesystemTest, AnOpenTakesExactlyOneRender) {
  backend_.set_text(1, "Node 0, zone   Normal  1 2 3\n");
  OpenFile* f = open_ok(kBuddyinfo);
  EXPECT_EQ(backend_.renders_of(1), 1);
  backend_.set_text(1, "changed\n");
  EXPECT_EQ(read(f), "Node 0, zone   Normal  1 2 3\n");
  EXPECT_EQ(read(f, 4096, 5), "0, zone   Normal  1 2 3\n");
  EXPECT_EQ(backend_.renders_of(1), 1);  // reads never render
  OpenFile* g = open_ok(kBuddyinfo);
  EXPECT_EQ(backend_.renders_of(1), 2);
  EXPECT_EQ(read(g), "changed\n");
  fs_.release(f);
  fs_.release(g);
  EXPECT_TRUE(backend_.closed_sessions().empty());  // rendered files have no session
  EXPECT_EQ(backend_.opened_session_count(), 0);
}

TEST_F(FilesystemTest, ReadsAtOffsets) {
  backend_.set_text(10, "0123456789");
  OpenFile* f = open_ok(kBlockSize);
  EXPECT_EQ(read(f, 4, 0), "0123");
  EXPECT_EQ(read(f, 4, 4), "4567");
  EXPECT_EQ(read(f, 4, 8), "89");
  EXPECT_EQ(read(f, 4, 10), "");
  EXPECT_EQ(read(f, 4, 1 << 20), "");
  EXPECT_EQ(read(f, 0, 0), "");
  fs_.release(f);
}

TEST_F(FilesystemTest, OpenRefusals) {
  EXPECT_EQ(open_error(kRootIno), EISDIR);
  EXPECT_EQ(open_error(kMemory0), EISDIR);
  EXPECT_EQ(open_error(77), ENOENT);
  EXPECT_EQ(open_error(kBuddyinfo, 0, O_WRONLY), EACCES);  // even root: read-only snapshots
  EXPECT_EQ(open_error(kBuddyinfo, 0, O_RDWR), EACCES);
  EXPECT_EQ(backend_.renders_of(1), 0);
  EXPECT_EQ(open_error(kControl, kOwner, O_RDWR), 0);
  EXPECT_EQ(open_error(kState0, kOwner, O_WRONLY), 0);
}

TEST_F(FilesystemTest, ARenderThatThrowsFailsTheOpenWithEnomem) {
  backend_.set_throw_on_render(true);
  EXPECT_EQ(open_error(kBuddyinfo), ENOMEM);
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].level, LogLevel::kErr);
  EXPECT_EQ(logged_[0].line, "open buddyinfo: no memory");
}

TEST_F(FilesystemTest, AFreshCommandOpenReadsItsFirstText) {
  OpenFile* f = open_ok(kControl, 1234, O_RDWR);
  EXPECT_EQ(read(f), "help for 100\n");
  EXPECT_EQ(read(f, 4096, 0), "help for 100\n");  // offset 0 starts over
  fs_.release(f);
  ASSERT_EQ(backend_.opened_session_count(), 1);
  EXPECT_EQ(backend_.render_count(), 0);
}

TEST_F(FilesystemTest, AWriteRunsALineAndTheNextReadShowsTheReply) {
  OpenFile* f = open_ok(kState0, kOwner, O_RDWR);
  EXPECT_EQ(fs_.write(f, "offline\n"), 0);
  EXPECT_EQ(read(f), "ok: offline\n");
  EXPECT_EQ(fs_.write(f, "online"), 0);
  EXPECT_EQ(read(f, 3, 0), "ok:");
  EXPECT_EQ(read(f, 3, 3), " on");    // a nonzero offset continues where the last read ended
  EXPECT_EQ(read(f, 3, 999), "lin");  // whatever the offset (the write moved it)
  EXPECT_EQ(read(f, 3, 6), "e");
  EXPECT_EQ(read(f, 3, 0), "ok:");
  EXPECT_EQ(backend_.lines_run(), (std::vector<std::string>{"1:offline\n", "1:online"}));
  fs_.release(f);
  EXPECT_TRUE(logged_.empty());
}

TEST_F(FilesystemTest, ABadLineFailsWithTheBackendsErrnoAndTheReasonIsReadNext) {
  OpenFile* f = open_ok(kControl, kOwner, O_RDWR);
  EXPECT_EQ(fs_.write(f, "bad thing\n"), EINVAL);
  EXPECT_EQ(read(f), "error: no such command\n");
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].level, LogLevel::kWarning);
  EXPECT_EQ(logged_[0].line, "control: 'bad thing': no such command");
  EXPECT_EQ(fs_.write(f, "good"), 0);
  EXPECT_EQ(read(f), "ok: good");
  fs_.release(f);
}

TEST_F(FilesystemTest, ALongBadLineIsCutInTheLog) {
  OpenFile* f = open_ok(kState1, kOwner, O_WRONLY);
  EXPECT_EQ(fs_.write(f, "bad" + std::string(500, 'x')), EINVAL);
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].line,
            "memory/memory1/state: 'bad" + std::string(197, 'x') + "': no such command");
  fs_.release(f);
}

TEST_F(FilesystemTest, WritingARenderedFileIsEbadf) {
  OpenFile* f = open_ok(kBuddyinfo);
  EXPECT_EQ(fs_.write(f, "x"), EBADF);
  EXPECT_TRUE(backend_.lines_run().empty());
  fs_.release(f);
}

TEST_F(FilesystemTest, EachCommandOpenIsASessionOfItsOpenerClosedAtRelease) {
  OpenFile* a = open_ok(kControl, 0, O_RDWR);
  OpenFile* b = open_ok(kControl, 1234, O_RDWR);
  auto* sa = static_cast<FakeBackend::FakeSession*>(a->session.get());
  auto* sb = static_cast<FakeBackend::FakeSession*>(b->session.get());
  EXPECT_EQ(sa->caller.uid, 0u);
  EXPECT_EQ(sb->caller.uid, 1234u);
  EXPECT_EQ(sb->file, 100u);
  EXPECT_EQ(fs_.write(b, "x"), 0);
  EXPECT_EQ(fs_.write(a, "y"), 0);
  EXPECT_EQ(backend_.lines_run(), (std::vector<std::string>{"2:x", "1:y"}));
  fs_.release(b);
  EXPECT_EQ(backend_.closed_sessions(), (std::vector<int>{2}));
  fs_.release(a);
  EXPECT_EQ(backend_.closed_sessions(), (std::vector<int>{2, 1}));
}

TEST_F(FilesystemTest, AnAbandonedOpenIsClosedAndFreed) {
  OpenFile* f = open_ok(kControl, kOwner, O_RDWR);
  fs_.abandon(f);
  EXPECT_EQ(backend_.closed_sessions(), (std::vector<int>{1}));
  OpenFile* g = open_ok(kBuddyinfo, kOther);
  EXPECT_EQ(fs_.held_by_others(), 4096u);
  fs_.abandon(g);
  EXPECT_EQ(fs_.held_by_others(), 0u);
}

TEST_F(FilesystemTest, AReadInFlightKeepsTheTextPastTheRelease) {
  backend_.set_text(1, "snapshot\n");
  OpenFile* f = open_ok(kBuddyinfo);
  std::string seen = fs_.read(f, 4096, 0, [&](const char* data, size_t n) {
    fs_.release(f);  // the release comes while the reply is being written
    return std::string(data, n);
  });
  EXPECT_EQ(seen, "snapshot\n");
}

class FilesystemCapTest : public FilesystemTest {
 protected:
  FilesystemCapTest() : FilesystemTest(Limits{10000, 4096}) {}
};

TEST_F(FilesystemCapTest, OtherUsersOpensPastTheCapFailWithEnfile) {
  backend_.set_text(1, std::string(5000, 'b'));  // counts 5000
  backend_.set_text(2, "p");                     // counts at least min_held
  OpenFile* a = open_ok(kBuddyinfo, kOther);
  EXPECT_EQ(fs_.held_by_others(), 5000u);
  OpenFile* b = open_ok(kPagetypeinfo, kOther);
  EXPECT_EQ(fs_.held_by_others(), 9096u);
  EXPECT_EQ(open_error(kPagetypeinfo, kOther), ENFILE);
  EXPECT_EQ(open_error(kBuddyinfo, kOther + 1), ENFILE);
  EXPECT_EQ(fs_.refused_opens(), 2u);
  ASSERT_EQ(logged_.size(), 1u);  // one warning per 1000 refusals
  EXPECT_EQ(logged_[0].level, LogLevel::kWarning);
  EXPECT_EQ(logged_[0].line,
            "open pagetypeinfo by uid 2000: files open by other users hold 0 MiB already (ENFILE)");
  // Root, the owner and command files do not count.
  OpenFile* r = open_ok(kBuddyinfo, 0);
  OpenFile* o = open_ok(kBuddyinfo, kOwner);
  OpenFile* c = open_ok(kControl, kOther, O_RDWR);
  EXPECT_EQ(fs_.held_by_others(), 9096u);
  // A release gives its share back.
  fs_.release(a);
  EXPECT_EQ(fs_.held_by_others(), 4096u);
  OpenFile* d = open_ok(kBuddyinfo, kOther);
  EXPECT_EQ(fs_.held_by_others(), 9096u);
  for (OpenFile* f : {b, r, o, c, d}) {
    fs_.release(f);
  }
  EXPECT_EQ(fs_.held_by_others(), 0u);
}

TEST_F(FilesystemCapTest, OpensReadsAndReleasesOnManyThreadsGiveEveryShareBack) {
  backend_.set_text(1, "x");
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        Filesystem::Opened a = fs_.open(kBuddyinfo, O_RDONLY, Caller{kOther + t, 0, 0});
        Filesystem::Opened c = fs_.open(kControl, O_RDWR, Caller{kOther + t, 0, 0});
        if (a.file) {
          EXPECT_EQ(read(a.file), "x");
          fs_.release(a.file);
        } else {
          EXPECT_EQ(a.error, ENFILE);
          ++refused;
        }
        EXPECT_EQ(fs_.write(c.file, "w"), 0);
        EXPECT_EQ(read(c.file), "ok: w");
        fs_.release(c.file);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(fs_.held_by_others(), 0u);
  EXPECT_EQ(fs_.refused_opens(), static_cast<uint64_t>(refused.load()));
  EXPECT_EQ(backend_.closed_sessions().size(), 2000u);
}

TEST(FilesystemDefaults, TheCapIs128MibOfAtLeastAPagePerOpen) {
  Limits limits;
  EXPECT_EQ(limits.max_held_by_others, size_t{128} << 20);
  EXPECT_EQ(limits.min_held, 4096u);
}

}  // namespace
}  // namespace memd::fusefs
