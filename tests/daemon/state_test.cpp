// State that survives a restart: the `snapshot` verb's parsing, the state
// directory in the configuration and on the command line, the Service's
// snapshot save/load (all or nothing, one load at a time, size limit) and the
// state directory's files (atomic writes, the lock, moving a file aside).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/render.h"
#include "daemon/command.h"
#include "daemon/config.h"
#include "daemon/options.h"
#include "daemon/service.h"
#include "daemon/state_file.h"

namespace memd {
namespace {

using Json = nlohmann::ordered_json;

// --- parsing ------------------------------------------------------------------------------------

SnapshotCommand parse_snapshot(std::string_view line) {
  auto r = parse_command(line);
  EXPECT_TRUE(r.ok()) << line << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok() || !std::holds_alternative<SnapshotCommand>(*r)) return {};
  return std::get<SnapshotCommand>(*r);
}

std::string parse_error(std::string_view line) {
  auto r = parse_command(line);
  EXPECT_FALSE(r.ok()) << line;
  return r.ok() ? "" : r.error().message;
}

TEST(SnapshotCommand, Save) {
  EXPECT_EQ(parse_snapshot("snapshot save\n").op, SnapshotCommand::Op::kSave);
  EXPECT_EQ(parse_snapshot("  snapshot\tsave \r\n").op, SnapshotCommand::Op::kSave);
}

TEST(SnapshotCommand, Load) {
  SnapshotCommand c = parse_snapshot("snapshot load bytes=1234");
  EXPECT_EQ(c.op, SnapshotCommand::Op::kLoad);
  EXPECT_EQ(c.bytes, 1234u);
  EXPECT_EQ(parse_snapshot("snapshot load bytes=0x100\n").bytes, 256u);
  EXPECT_EQ(parse_snapshot("snapshot load bytes=1099511627776").bytes, kMaxSnapshotBytes);
}

TEST(SnapshotCommand, BadInputNamesWhatIsWrong) {
  EXPECT_EQ(parse_error("snapshot"),
            "snapshot: say save or load bytes=N (usage: snapshot save | load bytes=N)");
  EXPECT_NE(parse_error("snapshot restore").find("unknown step 'restore'"), std::string::npos);
  EXPECT_NE(parse_error("snapshot bytes=3").find("say save or load"), std::string::npos);
  EXPECT_NE(parse_error("snapshot save now").find("unexpected 'now'"), std::string::npos);
  EXPECT_NE(parse_error("snapshot save file=/tmp/x").find("unexpected 'file=/tmp/x'"),
            std::string::npos);
  EXPECT_NE(parse_error("snapshot load").find("missing bytes="), std::string::npos);
  EXPECT_NE(parse_error("snapshot load bytes=0").find("bytes=0: must be in 1..1099511627776"),
            std::string::npos);
  EXPECT_NE(parse_error("snapshot load bytes=1099511627777").find("must be in"), std::string::npos);
  EXPECT_NE(parse_error("snapshot load bytes=-1").find("bytes=-1: not a number"),
            std::string::npos);
  EXPECT_NE(parse_error("snapshot load bytes=12k").find("not a number"), std::string::npos);
  EXPECT_NE(parse_error("snapshot load bytes=1 bytes=2").find("'bytes' given twice"),
            std::string::npos);
  EXPECT_NE(parse_error("snapshot load file=/etc/shadow").find("unknown key 'file'"),
            std::string::npos);
  EXPECT_NE(parse_error("snapshot load now").find("'now' is not key=value"), std::string::npos);
}

TEST(SnapshotCommand, InHelp) {
  EXPECT_NE(command_help().find("snapshot save | load bytes=N"), std::string_view::npos);
}

// --- configuration
// --------------------------------------------------------------------------------

TEST(StateConfig, EmptyStateDirKeepsNoState) {
  auto c = parse_config("[daemon]\nstate_dir = \"\"\n", "test.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->daemon.state_dir, "");
  c = parse_config("[daemon]\nstate_dir = \"/srv/memd\"\n", "test.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->daemon.state_dir, "/srv/memd");
  c = parse_config("[daemon]\nstate_dir = \"state\"\n", "test.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "test.toml:2:13: daemon.state_dir: must be an absolute path");
  c = parse_config("[daemon]\nstate_dir = 3\n", "test.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "test.toml:2:13: daemon.state_dir: must be a string");
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(StateConfig, DefaultStateDir) {
  if (geteuid() == 0) {
    EXPECT_EQ(default_config().daemon.state_dir, "/var/lib/memd");
    return;
  }
  {
    ScopedEnv xdg("XDG_STATE_HOME", "/tmp/xdg-state");
    EXPECT_EQ(default_config().daemon.state_dir, "/tmp/xdg-state/memd");
  }
  ScopedEnv xdg("XDG_STATE_HOME", "relative");  // not absolute: ignored, as the spec says
  ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(default_config().daemon.state_dir, "/home/someone/.local/state/memd");
}

Result<Config> config_from(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "memd");
  argv.insert(argv.begin() + 1, {"--config", "/dev/null"});
  auto parsed = parse_options(static_cast<int>(argv.size()), argv.data());
  if (!std::holds_alternative<Options>(parsed)) {
    return make_error("usage error " + std::to_string(std::get<int>(parsed)));
  }
  return resolve_config(std::get<Options>(parsed));
}

TEST(StateOptions, StateDirAndNoState) {
  auto c = config_from({"--state-dir", "/srv/memd-state"});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->daemon.state_dir, "/srv/memd-state");
  c = config_from({"--state-dir", "rel/dir"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->daemon.state_dir, std::filesystem::current_path().string() + "/rel/dir");
  c = config_from({"--no-state"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->daemon.state_dir, "");
  c = config_from({"--state-dir", ""});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->daemon.state_dir, "");
  // Both at once is a usage error (exit status 2).
  const char* both[] = {"memd", "--no-state", "--state-dir", "/x"};
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  auto parsed = parse_options(4, both);
  testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  ASSERT_TRUE(std::holds_alternative<int>(parsed));
  EXPECT_EQ(std::get<int>(parsed), 2);
}

// --- the Service
// ----------------------------------------------------------------------------------

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config.size = 512ULL << 20;
    auto s = Service::boot(config);
    ASSERT_TRUE(s.ok()) << s.error().message;
    service = std::move(*s);
  }

  Json ok(std::string_view line, Client* c = nullptr) {
    Reply r = service->execute(line, c ? c : &socket);
    EXPECT_TRUE(r.ok()) << line << " -> " << r.json_line();
    return r.json;
  }
  std::string files() {
    std::string all;
    for (ProcFile f : kProcFiles) {
      all += service->render(f);
    }
    return all;
  }
  // `snapshot save`: the reply and its bytes.
  std::string save() {
    Reply r = service->execute("snapshot save", &socket);
    EXPECT_TRUE(r.ok()) << r.json_line();
    if (!r.payload) {
      ADD_FAILURE() << "no payload";
      return "";
    }
    EXPECT_EQ(r.json["bytes"].get<uint64_t>(), r.payload->size());
    return *r.payload;
  }
  // `snapshot load bytes=N` and its bytes, as the socket server runs it.
  Reply load(std::string_view bytes, Client* c = nullptr) {
    Client* client = c ? c : &socket;
    Reply admitted = service->begin_snapshot_load(client, bytes.size());
    if (!admitted.ok()) return admitted;
    return service->snapshot_load(client, bytes);
  }
  void fill() {
    ok("alloc order=3 gfp=GFP_HIGHUSER_MOVABLE count=20");
    ok("alloc order=0 gfp=GFP_KERNEL count=300 cpu=1");
    ok("alloc order=1 gfp=GFP_KERNEL|__GFP_RECLAIMABLE count=7");
    ok("free id=3 id=25 id=100 cpu=1");  // onto a per-cpu list
    ok("sysctl min_free_kbytes=40000");
  }

  MachineConfig config;
  std::unique_ptr<Service> service;
  Client socket{Client::Origin::kSocket, 1000, 0};
};

TEST_F(SnapshotTest, SaveReplyAndBytes) {
  fill();
  Reply r = service->execute("snapshot save", &socket);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.json.dump(), fmt::format(R"({{"ok":true,"bytes":{},"allocations":324}})",
                                       r.payload ? r.payload->size() : 0));
  ASSERT_TRUE(r.payload);
  EXPECT_EQ(r.payload->substr(0, 8), "MEMDST01");
  EXPECT_EQ(*r.payload, service->save_state());
  EXPECT_LE(r.payload->size(), service->max_state_bytes());
}

TEST_F(SnapshotTest, LoadRestoresFilesIdsAndWhatComesNext) {
  fill();
  const std::string state = save();
  const std::string before = files();
  const Json next = ok("alloc order=2 gfp=GFP_KERNEL");  // what the saved machine does next
  ok("alloc order=5 gfp=GFP_HIGHUSER_MOVABLE count=9");
  ok("sysctl watermark_scale_factor=200");
  Reply r = load(state);
  ASSERT_TRUE(r.ok()) << r.json_line();
  EXPECT_EQ(r.json["allocations"], 324);
  EXPECT_EQ(r.json["machine"], "x86_64, 511 MiB in 1 node, 2 CPUs");
  EXPECT_EQ(files(), before);
  EXPECT_EQ(ok("sysctl min_free_kbytes")["sysctl"]["min_free_kbytes"], 40000);
  EXPECT_EQ(ok("alloc order=2 gfp=GFP_KERNEL"), next);
  // Ids and pfns as they were: id 7 is the seventh order-3 block.
  Json freed = ok("free id=7");
  EXPECT_EQ(freed["freed"][0]["order"], 3);
  EXPECT_EQ(ok("check")["problems"], Json::array());
  EXPECT_EQ(service->execute("free id=3", &socket).error_message(),
            "free: id=3: no live allocation has this id");
}

TEST_F(SnapshotTest, RefusedStateLeavesTheMachineUntouched) {
  fill();
  std::string state = save();
  ok("alloc order=4 gfp=GFP_KERNEL count=3");
  const std::string before = files();

  std::string flipped = state;
  flipped[flipped.size() / 2] ^= 0x20;
  EXPECT_EQ(load(flipped).error_message(),
            "snapshot load: state refused: checksum mismatch (damaged)");
  EXPECT_NE(load(state.substr(0, state.size() - 9)).error_message().find("truncated"),
            std::string::npos);
  EXPECT_EQ(load("hello\n").error_message(),
            "snapshot load: state refused: not a memd state file (bad magic)");

  MachineConfig other = config;
  other.cpus = 4;
  auto foreign = Service::boot(other);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(load((*foreign)->save_state()).error_message(),
            "snapshot load: state refused: it was saved from a machine with a different "
            "configuration");
  EXPECT_EQ(files(), before);
  EXPECT_EQ(service->live_allocations(), 327u);
  EXPECT_EQ(ok("check")["problems"], Json::array());
  EXPECT_TRUE(load(state).ok());  // and a good one still loads after refusals
}

TEST_F(SnapshotTest, NotFromTheControlFile) {
  Client control{Client::Origin::kControlFile, 0, 0};
  Reply r = service->execute("snapshot save", &control);
  EXPECT_EQ(r.failure, Failure::kBadInput);
  EXPECT_NE(r.error_message().find("the control file carries text only"), std::string::npos);
  EXPECT_FALSE(r.payload);
  EXPECT_FALSE(service->begin_snapshot_load(&control, 100).ok());
  // `snapshot load` run as a plain command: only the socket server reads its bytes.
  EXPECT_NE(service->execute("snapshot load bytes=10", &socket)
                .error_message()
                .find("the socket server reads the bytes"),
            std::string::npos);
}

TEST_F(SnapshotTest, OneLoadAtATimeAndASizeLimit) {
  const std::string state = save();
  Reply big = service->begin_snapshot_load(&socket, service->max_state_bytes() + 1);
  EXPECT_EQ(big.failure, Failure::kBadInput);
  EXPECT_NE(big.error_message().find("more than a state of this machine can take"),
            std::string::npos);
  // 512 MiB: 131072 pages of 16 bytes, and the fixed part.
  EXPECT_GT(service->max_state_bytes(), 16u * 131072);
  EXPECT_LT(service->max_state_bytes(), 16u * 131072 + (1u << 20));

  Client first{Client::Origin::kSocket, 0, 0}, second{Client::Origin::kSocket, 0, 0};
  ASSERT_TRUE(service->begin_snapshot_load(&first, state.size()).ok());
  Reply busy = service->begin_snapshot_load(&second, state.size());
  EXPECT_EQ(busy.failure, Failure::kBusy);
  EXPECT_EQ(busy.error_message(), "snapshot load: another load is in progress");
  EXPECT_FALSE(service->snapshot_load(&second, state).ok());  // never admitted
  service->disconnect(&first);                                // gone mid-state
  EXPECT_FALSE(first.loading_snapshot);
  EXPECT_TRUE(load(state, &second).ok());
  EXPECT_FALSE(second.loading_snapshot);
  EXPECT_TRUE(load(state, &first).ok());  // the slot is free again after a load
  EXPECT_TRUE(load("junk", &first).error_message().find("refused") != std::string::npos);
  EXPECT_TRUE(load(state, &second).ok());  // and after a refused one
}

TEST_F(SnapshotTest, LoadEndsAReplayLikeReset) {
  Client replayer{Client::Origin::kSocket, 0, 0};
  const std::string state = save();
  ok("replay begin", &replayer);
  ASSERT_TRUE(load(state).ok());
  EXPECT_EQ(ok("status")["replaying"], false);
  EXPECT_EQ(service->execute("replay end", &replayer).error_message(),
            "replay: the replay ended when the machine was reset");
}

TEST(SnapshotLimit, AFullMachineFits) {
  MachineConfig config;
  config.size = 64ULL << 20;
  config.cpus = 1;
  auto s = Service::boot(config);
  ASSERT_TRUE(s.ok());
  Service& service = **s;
  Client c{Client::Origin::kSocket, 0, 0};
  // Every page its own allocation: the largest state this machine has.
  for (int i = 0; i < 10 && service.execute("alloc order=0 gfp=GFP_ATOMIC count=100000", &c).ok();
       ++i) {
  }
  const std::string state = service.save_state();
  EXPECT_GT(service.live_allocations(), 15000u);
  EXPECT_LE(state.size(), service.max_state_bytes());
  auto restored = Service::restore(config, state);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ((*restored)->live_allocations(), service.live_allocations());
  EXPECT_GE((*restored)->max_state_bytes(), service.max_state_bytes());
}

// --- the state directory
// --------------------------------------------------------------------------

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/memd-state-test.XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    root = tmpl;
    dir = root + "/a/b/state";
  }
  void TearDown() override { std::filesystem::remove_all(root); }

  StateDir open_ok() {
    auto opened = StateDir::open(dir);
    if (auto* refusal = std::get_if<StateDir::Refusal>(&opened)) {
      ADD_FAILURE() << refusal->message;
      std::abort();
    }
    return std::move(std::get<StateDir>(opened));
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string root, dir;
};

TEST_F(StateDirTest, CreatesWritesAndReads) {
  StateDir state = open_ok();
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(state.path(), dir + "/memd.state");
  auto none = state.read();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);

  const std::string bytes("MEMDST01\0\x01 binary\n", 19);
  ASSERT_TRUE(state.write(bytes).ok());
  auto back = state.read();
  ASSERT_TRUE(back.ok() && *back);
  EXPECT_EQ(**back, bytes);
  ASSERT_EQ(stat(state.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(state.path() + ".new"));
  ASSERT_TRUE(state.write("second").ok());  // replaces it
  EXPECT_EQ(slurp(state.path()), "second");
}

TEST_F(StateDirTest, OneMemdPerDirectory) {
  StateDir first = open_ok();
  auto second = StateDir::open(dir);
  auto* refusal = std::get_if<StateDir::Refusal>(&second);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->kind, StateDir::OpenError::kBusy);
  EXPECT_EQ(refusal->message, dir + ": another memd uses this state directory");
}

TEST_F(StateDirTest, RejectMovesTheFileAside) {
  StateDir state = open_ok();
  ASSERT_TRUE(state.write("old junk").ok());
  auto aside = state.reject();
  ASSERT_TRUE(aside.ok());
  EXPECT_EQ(*aside, dir + "/memd.state.rejected");
  EXPECT_EQ(slurp(*aside), "old junk");
  EXPECT_FALSE(std::filesystem::exists(state.path()));
  EXPECT_FALSE(state.reject().ok());  // nothing left to move
}

TEST_F(StateDirTest, ALeftoverTemporaryFileIsRemoved) {
  { StateDir state = open_ok(); }
  std::ofstream(dir + "/memd.state.new") << "half written";
  StateDir state = open_ok();
  EXPECT_FALSE(std::filesystem::exists(dir + "/memd.state.new"));
}

TEST_F(StateDirTest, ErrorsNameThePathAndTheReason) {
  std::ofstream(root + "/file") << "x";
  auto opened = StateDir::open(root + "/file/state");
  auto* refusal = std::get_if<StateDir::Refusal>(&opened);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->kind, StateDir::OpenError::kOther);
  EXPECT_EQ(refusal->message, "cannot create " + root + "/file/state: Not a directory");

  StateDir state = open_ok();
  std::filesystem::create_directory(state.path());  // a directory where the file should be
  auto read = state.read();
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().message, state.path() + ": not a regular file");
  auto written = state.write("x");
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().message, state.path() + ".new: rename: Is a directory");
  EXPECT_FALSE(std::filesystem::exists(state.path() + ".new"));
}

}  // namespace
}  // namespace memd
