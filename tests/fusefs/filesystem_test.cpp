// The adapter's logic (fusefs/filesystem.h) against a fake backend: no
// libfuse, no mount, no root.
#include "fusefs/filesystem.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
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
              kMemory0 = 7, kState0 = 8, kPhysIndex0 = 9, kMemory1 = 10, kState1 = 11,
              kTracing = 12, kTracePipe = 13;

struct Logged {
  LogLevel level;
  std::string line;
};

// Waits (20 s at most) until `ready` holds.
bool eventually(const std::function<bool()>& ready) {
  for (int ms = 0; ms < 20'000 && !ready(); ms += 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ready();
}

// A request of a waiting read, or a poll handle, as the tests number them.
void* token(uintptr_t n) {
  return reinterpret_cast<void*>(n);  // NOLINT(performance-no-int-to-ptr): a token, never read
}

// What the pipe thread answers, one line each in order: "reply 1 'bytes'",
// "fail 1 4", "ready 7", "drop 7"; and "TWICE 1" if a request is answered twice.
class Recorder final : public PipeReplies {
 public:
  void reply(void* req, std::string_view bytes) override {
    answered(req, "reply " + name(req) + " '" + std::string(bytes) + "'");
  }
  void fail(void* req, int error) override {
    answered(req, "fail " + name(req) + " " + std::to_string(error));
  }
  void ready(void* ph) override { add("ready " + name(ph)); }
  void drop(void* ph) override { add("drop " + name(ph)); }

  std::vector<std::string> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // Waits (20 s at most) until there are `n` events; returns them.
  std::vector<std::string> wait_for(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return events_.size() >= n; });
    return events_;
  }
  // Waits (20 s at most) until `req` is answered.
  bool wait_answered(void* req) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return answered_.count(req) != 0; });
  }
  // Called with each event before it is recorded (the test's look at the backend then).
  std::function<void(const std::string&)> on_event;

  // As libfuse does with a request's interrupt callback: registered before
  // the park, run under a lock, and unregistered by the answer, which waits
  // for a callback running then; none runs after it.
  void register_interrupt(void* req) {
    std::lock_guard<std::mutex> lock(interrupt_mu_);
    registered_.insert(req);
  }
  void deliver_interrupt(void* req, const std::function<void()>& callback) {
    std::lock_guard<std::mutex> lock(interrupt_mu_);
    if (registered_.count(req) != 0) {
      callback();
    }
  }

 private:
  static std::string name(void* p) { return std::to_string(reinterpret_cast<uintptr_t>(p)); }
  void answered(void* req, std::string event) {
    {
      std::lock_guard<std::mutex> lock(interrupt_mu_);
      registered_.erase(req);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!answered_.insert(req).second) {
        event = "TWICE " + name(req);
      }
    }
    add(std::move(event));
  }
  void add(std::string event) {
    if (on_event) {
      on_event(event);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
  std::set<void*> answered_;
  std::mutex interrupt_mu_;
  std::set<void*> registered_;  // by interrupt_mu_
};

class FilesystemTest : public ::testing::Test {
 protected:
  explicit FilesystemTest(Limits limits = {})
      : backend_(sample_entries()),
        fs_(
            &backend_, Owner{kOwner, kOwner, {}},
            [this](LogLevel level, std::string_view line) {
              std::lock_guard<std::mutex> lock(log_mu_);
              logged_.push_back({level, std::string(line)});
            },
            limits, &replies_) {
    backend_.set_pipe_notifier(fs_.pipe_notifier());
  }
  ~FilesystemTest() override {
    stop_pipe_thread();
    fs_.end_pipes();  // what tests left waiting: the recorder frees nothing
  }

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

  // A blocking read of `size` that finds nothing, parked as request `req`.
  PipeWaiter* park(OpenFile* f, uintptr_t req, size_t size = 4096) {
    Filesystem::PipeRead r = fs_.read_pipe(f, size, false, token(req));
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(r.bytes, "");
    PipeWaiter* waiter = r.waiter.get();
    if (waiter) {
      fs_.park(std::move(r.waiter));
    }
    return waiter;
  }
  void start_pipe_thread() {
    pipe_thread_ = std::thread([this] { fs_.serve_pipes(); });
  }
  void stop_pipe_thread() {
    if (pipe_thread_.joinable()) {
      fs_.stop_pipes();
      pipe_thread_.join();
    }
  }

  FakeBackend backend_;
  Recorder replies_;   // before fs_, which uses it until it ends
  std::mutex log_mu_;  // the pipe thread logs too
  std::vector<Logged> logged_;
  Filesystem fs_;
  std::thread pipe_thread_;
};

TEST_F(FilesystemTest, NumbersInodesInTheTablesOrderWithDirectoriesOnTheWay) {
  EXPECT_EQ(fs_.inode_count(), 13u);
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
  EXPECT_EQ(fs_.node(kTracing)->path, "tracing");
  EXPECT_EQ(fs_.node(kTracePipe)->path, "tracing/trace_pipe");
  EXPECT_EQ(fs_.node(0), nullptr);
  EXPECT_EQ(fs_.node(14), nullptr);
  EXPECT_EQ(fs_.node(kRootIno)->children,
            (std::vector<Ino>{kControl, kBuddyinfo, kPagetypeinfo, kMemory, kTracing}));
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
  EXPECT_EQ(st.st_nlink, 4u);  // ".", its entry, memory/.., tracing/..
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
  ASSERT_EQ(fs_.getattr(kTracePipe, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0444);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(fs_.getattr(14, &st), ENOENT);
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
  EXPECT_THROW(make({{"p", Kind::kPipe}}), std::invalid_argument);  // nothing to answer its reads
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

// --- pipe files ------------------------------------------------------------------------------

TEST_F(FilesystemTest, PipeOpensAreReadOnlyAndEachIsASessionClosedAtRelease) {
  EXPECT_EQ(open_error(kTracePipe, 0, O_WRONLY), EACCES);
  EXPECT_EQ(open_error(kTracePipe, 0, O_RDWR), EACCES);
  EXPECT_EQ(backend_.opened_session_count(), 0);
  OpenFile* f = open_ok(kTracePipe, kOther);
  auto* s = static_cast<FakeBackend::FakeSession*>(f->session.get());
  EXPECT_EQ(s->caller.uid, kOther);
  EXPECT_EQ(s->file, 300u);
  EXPECT_EQ(fs_.held_by_others(), 0u);  // a pipe holds no text
  EXPECT_EQ(fs_.write(f, "x"), EBADF);
  fs_.release(f);
  EXPECT_EQ(backend_.closed_sessions(), (std::vector<int>{1}));
  EXPECT_EQ(backend_.render_count(), 0);
}

TEST_F(FilesystemTest, APipeReadTakesWhatThePipeHasNow) {
  OpenFile* f = open_ok(kTracePipe);
  backend_.push("line 1\nline 2\n");
  Filesystem::PipeRead r = fs_.read_pipe(f, 7, false, token(1));
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.bytes, "line 1\n");
  EXPECT_EQ(r.waiter, nullptr);
  EXPECT_EQ(fs_.read_pipe(f, 4096, true, token(2)).bytes, "line 2\n");
  EXPECT_EQ(fs_.read_pipe(f, 0, false, token(3)).waiter, nullptr);  // nothing to wait for
  fs_.release(f);
  EXPECT_TRUE(replies_.events().empty());  // all answered by the caller
}

TEST_F(FilesystemTest, ANonblockingReadOfAnEmptyPipeFailsWithEagain) {
  OpenFile* f = open_ok(kTracePipe);
  Filesystem::PipeRead r = fs_.read_pipe(f, 4096, true, token(1));
  EXPECT_EQ(r.error, EAGAIN);
  EXPECT_EQ(r.waiter, nullptr);
  EXPECT_EQ(fs_.parked_reads(), 0u);
  fs_.release(f);
}

TEST_F(FilesystemTest, AWaitingReadIsAnsweredWhenThePipeGetsData) {
  OpenFile* f = open_ok(kTracePipe);
  ASSERT_NE(park(f, 1), nullptr);
  fs_.retry_pipes();
  EXPECT_TRUE(replies_.events().empty());
  EXPECT_EQ(fs_.parked_reads(), 1u);
  backend_.push("x\n");
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"reply 1 'x\n'"}));
  EXPECT_EQ(fs_.parked_reads(), 0u);
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events().size(), 1u);
  fs_.release(f);
}

TEST_F(FilesystemTest, WaitingReadsAreRetriedInArrivalOrder) {
  OpenFile* a = open_ok(kTracePipe);
  OpenFile* b = open_ok(kTracePipe);
  park(b, 1, 2);
  park(a, 2, 2);
  park(b, 3, 2);
  backend_.push("1122");
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"reply 1 '11'", "reply 2 '22'"}));
  backend_.push("333");
  fs_.retry_pipes();
  EXPECT_EQ(replies_.wait_for(3).back(), "reply 3 '33'");
  EXPECT_EQ(backend_.pipe_left(), "3");
  fs_.release(a);
  fs_.release(b);
  EXPECT_EQ(backend_.misuses(), 0);
}

TEST_F(FilesystemTest, AnInterruptAnswersTheWaitingReadWithEintrOnce) {
  OpenFile* f = open_ok(kTracePipe);
  PipeWaiter* w = park(f, 1);
  ASSERT_NE(w, nullptr);
  fs_.interrupt(w);
  backend_.push("kept\n");
  fs_.retry_pipes();
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"fail 1 4"}));
  EXPECT_EQ(backend_.pipe_left(), "kept\n");  // an interrupted read takes nothing
  fs_.release(f);
}

// libfuse calls the interrupt callback from within its registration when the
// interrupt came first, that is before park(): the pass that this wakes finds
// nothing parked, and park() must ask for another.
TEST_F(FilesystemTest, AnInterruptBeforeTheReadIsParkedIsNotLost) {
  start_pipe_thread();
  OpenFile* f = open_ok(kTracePipe);
  OpenFile* g = open_ok(kTracePipe);
  EXPECT_FALSE(fs_.poll_pipe(g, token(9)));  // makes each pass ask the backend about g
  Filesystem::PipeRead r = fs_.read_pipe(f, 4096, false, token(1));
  ASSERT_NE(r.waiter, nullptr);
  const int asked = backend_.ready_calls();
  fs_.interrupt(r.waiter.get());
  ASSERT_TRUE(eventually([&] { return backend_.ready_calls() > asked; }));  // that pass is over
  fs_.park(std::move(r.waiter));
  EXPECT_EQ(replies_.wait_for(1), (std::vector<std::string>{"fail 1 4"}));
  stop_pipe_thread();
  fs_.release(f);
  fs_.release(g);
}

// The host's notifier wakes the pipe thread, from another thread and with
// the host's lock held; data pushed between the read that found nothing and
// its park() is not missed either.
TEST_F(FilesystemTest, ThePipeThreadAnswersWhenTheHostNotifies) {
  start_pipe_thread();
  OpenFile* f = open_ok(kTracePipe);
  EXPECT_FALSE(fs_.poll_pipe(f, token(9)));
  Filesystem::PipeRead r = fs_.read_pipe(f, 4096, false, token(1));
  ASSERT_NE(r.waiter, nullptr);
  backend_.push("early\n");
  EXPECT_EQ(replies_.wait_for(1), (std::vector<std::string>{"ready 9"}));  // that pass is over
  fs_.park(std::move(r.waiter));
  EXPECT_EQ(replies_.wait_for(2).back(), "reply 1 'early\n'");
  park(f, 2);
  std::thread([this] { backend_.push("late\n"); }).join();
  EXPECT_EQ(replies_.wait_for(3).back(), "reply 2 'late\n'");
  stop_pipe_thread();
  fs_.release(f);
  EXPECT_EQ(backend_.notifiers_set(), 1);
}

TEST_F(FilesystemTest, AReleaseAnswersTheOpensWaitingReadsBeforeTheClose) {
  OpenFile* f = open_ok(kTracePipe);
  OpenFile* g = open_ok(kTracePipe);
  park(f, 1);
  park(g, 2);
  park(f, 3);
  std::vector<size_t> closed_at_event;
  replies_.on_event = [&](const std::string&) {
    closed_at_event.push_back(backend_.closed_sessions().size());
  };
  fs_.release(f);
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"reply 1 ''", "reply 3 ''"}));
  EXPECT_EQ(closed_at_event, (std::vector<size_t>{0, 0}));
  EXPECT_EQ(backend_.closed_sessions(), (std::vector<int>{1}));
  backend_.push("g\n");
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events().back(), "reply 2 'g\n'");
  fs_.release(g);
  EXPECT_EQ(backend_.misuses(), 0);
}

// The kernel sends the release once no read of the open runs, but the pipe
// thread may be retrying one of its parked reads then: the session is closed
// only after that call returned, and the read is answered once.
TEST_F(FilesystemTest, AReleaseWaitsForThePipeThreadsReadOfTheOpen) {
  OpenFile* f = open_ok(kTracePipe);
  park(f, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool in_read = false, go_on = false;
  backend_.set_read_hook([&] {
    std::unique_lock<std::mutex> lock(mu);
    in_read = true;
    cv.notify_all();
    cv.wait(lock, [&] { return go_on; });
  });
  backend_.push("x");
  std::thread pass([this] { fs_.retry_pipes(); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return in_read; }));
  }
  std::thread release([&] { fs_.release(f); });
  replies_.wait_for(1);  // the release took the read: now it waits for the session
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // lets a wrong close happen
  EXPECT_TRUE(backend_.closed_sessions().empty());
  {
    std::lock_guard<std::mutex> lock(mu);
    go_on = true;
  }
  cv.notify_all();
  pass.join();
  release.join();
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"reply 1 ''"}));
  EXPECT_EQ(backend_.closed_sessions(), (std::vector<int>{1}));
  EXPECT_EQ(backend_.misuses(), 0);
}

TEST_F(FilesystemTest, APipeReadThatThrowsFailsWithEnomem) {
  OpenFile* f = open_ok(kTracePipe);
  park(f, 1);
  backend_.set_throw_on_read_pipe(true);
  EXPECT_EQ(fs_.read_pipe(f, 4096, false, token(2)).error, ENOMEM);
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"fail 1 12"}));
  ASSERT_EQ(logged_.size(), 2u);
  EXPECT_EQ(logged_[0].level, LogLevel::kErr);
  EXPECT_EQ(logged_[0].line, "read tracing/trace_pipe: no memory");
  fs_.release(f);
}

TEST_F(FilesystemTest, APollKeepsItsHandleUntilThePipeHasData) {
  OpenFile* f = open_ok(kTracePipe);
  EXPECT_FALSE(fs_.poll_pipe(f, token(7)));
  EXPECT_FALSE(fs_.poll_pipe(f, token(8)));  // replaces 7
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"drop 7"}));
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events().size(), 1u);
  backend_.push("x");
  fs_.retry_pipes();
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"drop 7", "ready 8"}));
  EXPECT_TRUE(fs_.poll_pipe(f, nullptr));
  // Kept even when ready: an epoll set learns of data coming after the next read only by it.
  EXPECT_TRUE(fs_.poll_pipe(f, token(9)));
  EXPECT_EQ(fs_.read_pipe(f, 4096, false, token(1)).bytes, "x");
  EXPECT_FALSE(fs_.poll_pipe(f, token(10)));
  EXPECT_EQ(replies_.events().back(), "drop 9");
  fs_.release(f);
  EXPECT_EQ(replies_.events().back(), "drop 10");
  EXPECT_EQ(backend_.misuses(), 0);
}

TEST_F(FilesystemTest, TheEndAnswersWaitingReadsWithEndOfFileAndDropsPolls) {
  start_pipe_thread();
  OpenFile* f = open_ok(kTracePipe);
  park(f, 1);
  park(f, 2);
  EXPECT_FALSE(fs_.poll_pipe(f, token(9)));
  stop_pipe_thread();
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"reply 1 ''", "reply 2 ''", "drop 9"}));
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0].line, "the mount ends: 2 waiting pipe read(s) get end of file");
  park(f, 3);  // too late to wait
  EXPECT_FALSE(fs_.poll_pipe(f, token(10)));
  EXPECT_EQ(replies_.events(), (std::vector<std::string>{"reply 1 ''", "reply 2 ''", "drop 9",
                                                         "reply 3 ''", "drop 10"}));
  EXPECT_EQ(fs_.parked_reads(), 0u);
  fs_.release(f);
}

TEST(FilesystemPipes, TheNotifierOutlivesTheFilesystem) {
  FakeBackend backend(sample_entries());
  Recorder replies;
  std::function<void()> notify;
  {
    Filesystem fs(&backend, Owner{}, nullptr, Limits{}, &replies);
    notify = fs.pipe_notifier();
  }
  notify();  // a host that notifies late touches nothing freed
}

// Reads, interrupts, data and releases on many threads, the pipe thread
// running: every waiting read is answered exactly once, and bytes are lost
// only with an open released while its read waits.
TEST_F(FilesystemTest, ManyThreadsWaitReadAndInterruptEachReadAnsweredOnce) {
  constexpr int kThreads = 4, kReads = 200;
  start_pipe_thread();
  std::atomic<bool> done{false};
  std::atomic<size_t> pushed{0}, taken{0}, parked{0};
  std::thread pusher([&] {
    while (!done) {
      if (backend_.pipe_left().size() < 8) {
        backend_.push("ab");
        pushed += 2;
      }
      std::this_thread::yield();
    }
  });
  auto read_once = [&](int t, int i) {
    OpenFile* f = open_ok(kTracePipe);
    void* req = token(1 + t * kReads + i);
    Filesystem::PipeRead r = fs_.read_pipe(f, 3, false, req);
    taken += r.bytes.size();
    if (PipeWaiter* w = r.waiter.get()) {
      auto interrupt = [this, w] { fs_.interrupt(w); };
      replies_.register_interrupt(req);
      if (i % 3 == 0) {
        replies_.deliver_interrupt(req, interrupt);  // as from within libfuse's registration
      }
      fs_.park(std::move(r.waiter));
      ++parked;
      if (i % 3 == 1) {
        replies_.deliver_interrupt(req, interrupt);  // races with the answer
      }
      if (i % 2 == 0) {  // as the kernel does; otherwise the release races the pipe thread
        EXPECT_TRUE(replies_.wait_answered(req));
      }
    }
    fs_.release(f);
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; i < kReads; ++i) {
        read_once(t, i);
      }
    });
  }
  for (std::thread& t : readers) {
    t.join();
  }
  done = true;
  pusher.join();
  stop_pipe_thread();
  size_t replied = 0;
  for (const std::string& e : replies_.events()) {
    EXPECT_NE(e.rfind("TWICE", 0), 0u) << e;
    if (e.rfind("reply", 0) == 0) {
      replied += e.size() - e.find('\'') - 2;
    }
  }
  EXPECT_EQ(replies_.events().size(), parked.load());
  EXPECT_LE(taken + replied + backend_.pipe_left().size(), pushed.load());
  EXPECT_EQ(backend_.misuses(), 0);
  EXPECT_EQ(backend_.closed_sessions().size(), size_t{kThreads * kReads});
}

TEST(FilesystemSymlinks, ALinkShowsItsTargetAndIsNeverOpened) {
  FakeBackend backend({{"memory/memory8/state", Kind::kRendered, 0444, 1},
                       {"memory/memory8/node0", Kind::kSymlink, 0777, 0, "../../node/node0"},
                       {"node/node0", Kind::kDirectory, 0555, 0}});
  Filesystem fs(&backend, Owner{}, nullptr);
  // root 1, memory 2, memory8 3, state 4, node0 (the link) 5, node 6, node/node0 7
  constexpr Ino kLink = 5;
  struct stat st {};
  ASSERT_EQ(fs.lookup(3, "node0", &st), 0);
  EXPECT_EQ(st.st_ino, kLink);
  EXPECT_EQ(st.st_mode, S_IFLNK | 0777);
  EXPECT_EQ(st.st_size, 16);  // strlen("../../node/node0"), as lstat shows a link
  EXPECT_EQ(st.st_nlink, 1u);
  std::string target;
  EXPECT_EQ(fs.readlink(kLink, &target), 0);
  EXPECT_EQ(target, "../../node/node0");
  EXPECT_EQ(fs.readlink(4, &target), EINVAL);  // a file
  EXPECT_EQ(fs.readlink(2, &target), EINVAL);  // a directory
  EXPECT_EQ(fs.readlink(99, &target), ENOENT);
  EXPECT_EQ(fs.open(kLink, O_RDONLY, Caller{}).error, ELOOP);
  EXPECT_EQ(fs.setattr(kLink, true, &st), EPERM);
  EXPECT_EQ(fs.lookup(kLink, "x", &st), ENOTDIR);
  ASSERT_EQ(fs.getattr(7, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0555);
  EXPECT_EQ(backend.renders_of(0), 0);  // nothing rendered for a link
}

TEST(FilesystemSymlinks, ALinkNeedsATarget) {
  FakeBackend backend({{"a", Kind::kSymlink, 0777, 0, ""}});
  EXPECT_THROW(Filesystem(&backend, Owner{}, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace memd::fusefs
