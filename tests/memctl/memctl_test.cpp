// memctl without a real daemon: argument handling and exit statuses, the
// command lines it sends (to a fake socket), and its output from canned JSON.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/memctl.h"
#include "client/output.h"
#include "client/request.h"
#include "protocol/command.h"
#include "tests/memctl/fake_memd.h"

namespace memd::testing {
namespace {

using client::Json;

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

Outcome memctl(std::vector<std::string> args, client::Environment env = {}) {
  args.insert(args.begin(), "memctl");
  std::ostringstream out, err;
  Outcome r;
  r.status = client::run(args, env, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// An environment whose socket is the fake's.
client::Environment at(const FakeMemd& fake) {
  client::Environment env;
  env.memd_socket = fake.path();
  return env;
}

size_t count_lines(const std::string& s) {
  return std::count(s.begin(), s.end(), '\n');
}

// Exactly one line on stderr, starting with "memctl: ".
void expect_one_error_line(const Outcome& r) {
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("memctl: ", 0), 0u) << r.err;
}

const char kAllocReply[] =
    R"({"ok":true,"allocations":[{"id":7,"pfn":"0x1f400","order":3,"zone":"Normal","node":0,"migratetype":"Movable"},)"
    R"({"id":8,"pfn":"0x1f408","order":3,"zone":"Normal","node":0,"migratetype":"Movable"}]})";
const char kFailure[] =
    "page allocation failure: order:3, mode:0x100cca(GFP_HIGHUSER_MOVABLE), nodemask=(null)";

// --- the command lines ----------------------------------------------------------------------

TEST(Request, QuoteValue) {
  EXPECT_EQ(*client::quote_value("GFP_KERNEL|__GFP_ZERO"), "GFP_KERNEL|__GFP_ZERO");
  EXPECT_EQ(*client::quote_value("256 256 32"), "\"256 256 32\"");
  EXPECT_EQ(*client::quote_value("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(*client::quote_value(""), "\"\"");
  EXPECT_FALSE(client::quote_value("GFP_KERNEL\nfree all").ok());
}

TEST(Request, Alloc) {
  client::AllocRequest r;
  EXPECT_EQ(*client::alloc_command(r), "alloc order=0 gfp=GFP_KERNEL");
  r.order = 3;
  r.gfp = client::kGfpMovable;
  r.count = 2;
  r.cpu = 0;
  r.node = 0;
  EXPECT_EQ(*client::alloc_command(r),
            "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE count=2 cpu=0 node=0");
  r.gfp = "GFP_KERNEL count=100000";  // no smuggled keys
  EXPECT_EQ(*client::alloc_command(r),
            "alloc order=3 gfp=\"GFP_KERNEL count=100000\" count=2 cpu=0 node=0");
}

TEST(Request, Free) {
  client::FreeRequest r;
  EXPECT_FALSE(client::free_command(r).ok());
  r.pfns = {"0x1f400", "128000"};
  r.ids = {7};
  r.cpu = 1;
  EXPECT_EQ(*client::free_command(r), "free pfn=0x1f400 pfn=0x1f400 id=7 cpu=1");
  r.all = true;
  EXPECT_FALSE(client::free_command(r).ok());
  r = {};
  r.all = true;
  EXPECT_EQ(*client::free_command(r), "free all");
  r = {};
  r.pfns = {"0xzz"};
  EXPECT_FALSE(client::free_command(r).ok());
}

TEST(Request, Sysctl) {
  EXPECT_EQ(*client::sysctl_command(""), "sysctl");
  EXPECT_EQ(*client::sysctl_command("min_free_kbytes"), "sysctl min_free_kbytes");
  EXPECT_EQ(*client::sysctl_command("vm.min_free_kbytes=65536"), "sysctl vm.min_free_kbytes=65536");
  EXPECT_EQ(*client::sysctl_command("lowmem_reserve_ratio=256 256 32 0 0"),
            "sysctl lowmem_reserve_ratio=\"256 256 32 0 0\"");
  EXPECT_FALSE(client::sysctl_command("=5").ok());
  EXPECT_FALSE(client::sysctl_command("a b=5").ok());
}

TEST(Environment, DefaultSocketPath) {
  client::Environment env;
  env.root = true;
  env.xdg_runtime_dir = "/run/user/1000";
  EXPECT_EQ(client::default_socket_path(env), "/run/memd/memd.sock");
  env.root = false;
  // A user without a memd of their own talks to the system's (group memd).
  EXPECT_EQ(client::default_socket_path(env), "/run/memd/memd.sock");
  env.user_socket_exists = true;
  EXPECT_EQ(client::default_socket_path(env), "/run/user/1000/memd/memd.sock");
  env.xdg_runtime_dir.reset();
  EXPECT_EQ(client::default_socket_path(env), "/run/memd/memd.sock");
  env.memd_socket = "/tmp/m.sock";
  EXPECT_EQ(client::default_socket_path(env), "/tmp/m.sock");
}

// --- usage errors, help, an unreachable daemon ---------------------------------------------

TEST(Memctl, UsageErrorsExit2WithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frob"},
      {"--bogus", "status"},
      {"alloc", "--order", "x"},
      {"alloc", "--movable", "--reclaimable"},
      {"alloc", "--movable", "--gfp", "GFP_KERNEL"},
      {"alloc", "--gfp", "GFP_KERNEL\nfree all"},
      {"alloc", "stray"},
      {"free"},
      {"free", "--all", "0x10"},
      {"free", "zzz"},
      {"free", "--id", "x"},
      {"show"},
      {"show", "cpuinfo"},
      {"show", "memory/memory8"},
      {"show", "memory/memory08/state"},
      {"show", "memory/memory8/uevent"},
      {"sysctl", "=1"},
      {"sysctl", "a", "b"},
      {"replay"},
      {"replay", "/nonexistent/trace"},
      {"check", "extra"},
      {"status", "--socket"},
      {"snapshot"},
      {"snapshot", "save"},
      {"snapshot", "load"},
      {"snapshot", "restore", "f"},
      {"snapshot", "save", "a", "b"},
      {"snapshot", "--bogus", "save", "f"},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(::testing::PrintToString(args));
    client::Environment env;
    env.memd_socket = "/nonexistent/memd.sock";
    Outcome r = memctl(args, env);
    EXPECT_EQ(r.status, client::kExitUsage);
    EXPECT_EQ(r.out, "");
    expect_one_error_line(r);
  }
}

TEST(Memctl, HelpForEverySubcommand) {
  for (const char* sub :
       {"alloc", "free", "show", "sysctl", "replay", "check", "reset", "status"}) {
    Outcome r = memctl({sub, "--help"});
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.out.find(std::string("Usage: memctl ") + sub), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
  Outcome r = memctl({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("replay"), std::string::npos);
}

TEST(Memctl, UnreachableDaemonExits3) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"status"},
           {"alloc", "--order", "3", "--movable"},
           {"--json", "check"},
           {"replay", MEMD_TRACES_DIR "/build-sample.trace.gz"}}) {
    client::Environment env;
    env.memd_socket = "/nonexistent/memd.sock";
    Outcome r = memctl(args, env);
    EXPECT_EQ(r.status, client::kExitUnreachable);
    EXPECT_EQ(r.out, "");
    expect_one_error_line(r);
    EXPECT_NE(r.err.find("/nonexistent/memd.sock"), std::string::npos);
  }
}

TEST(Memctl, SocketOptionBeatsTheEnvironment) {
  client::Environment env;
  env.memd_socket = "/nonexistent/env.sock";
  Outcome r = memctl({"--socket", "/nonexistent/flag.sock", "status"}, env);
  EXPECT_EQ(r.status, client::kExitUnreachable);
  EXPECT_NE(r.err.find("/nonexistent/flag.sock"), std::string::npos);
  // After the subcommand too.
  r = memctl({"status", "--socket", "/nonexistent/flag2.sock", "--json"}, env);
  EXPECT_NE(r.err.find("/nonexistent/flag2.sock"), std::string::npos);
}

TEST(Memctl, DaemonThatClosesOrSpeaksNonsenseExits3) {
  FakeMemd closes([](const std::string&, const std::string&) { return std::string(); });
  Outcome r = memctl({"status"}, at(closes));
  EXPECT_EQ(r.status, client::kExitUnreachable);
  expect_one_error_line(r);
  FakeMemd nonsense([](const std::string&, const std::string&) { return std::string("hello"); });
  r = memctl({"status"}, at(nonsense));
  EXPECT_EQ(r.status, client::kExitUnreachable);
  expect_one_error_line(r);
}

// --- commands against a fake daemon ----------------------------------------------------------

TEST(Memctl, AllocSendsTheCommandAndPrintsWhatItGot) {
  FakeMemd fake([](const std::string&, const std::string&) { return std::string(kAllocReply); });
  Outcome r =
      memctl({"alloc", "--order", "3", "--movable", "--count", "2", "--cpu", "1", "--node", "0"},
             at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(fake.lines(), std::vector<std::string>{
                              "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE count=2 cpu=1 node=0"});
  EXPECT_EQ(r.out,
            "      ID  PFN          ORDER  ZONE     NODE  MIGRATETYPE\n"
            "       7  0x1f400          3  Normal      0  Movable\n"
            "       8  0x1f408          3  Normal      0  Movable\n");
}

TEST(Memctl, AllocShortcuts) {
  FakeMemd fake([](const std::string&, const std::string&) { return std::string(kAllocReply); });
  EXPECT_EQ(memctl({"alloc"}, at(fake)).status, 0);
  EXPECT_EQ(memctl({"alloc", "--reclaimable", "--order", "1"}, at(fake)).status, 0);
  EXPECT_EQ(memctl({"alloc", "--gfp", "GFP_NOWAIT|__GFP_COMP"}, at(fake)).status, 0);
  EXPECT_EQ(fake.lines(), (std::vector<std::string>{
                              "alloc order=0 gfp=GFP_KERNEL",
                              "alloc order=1 gfp=GFP_KERNEL|__GFP_RECLAIMABLE",
                              "alloc order=0 gfp=GFP_NOWAIT|__GFP_COMP",
                          }));
}

TEST(Memctl, FailedAllocationPrintsTheKernelsLineAndExits1) {
  FakeMemd fake([](const std::string&, const std::string&) {
    return Json{{"ok", false}, {"error", kFailure}}.dump();
  });
  Outcome r = memctl({"alloc", "--order", "3", "--movable"}, at(fake));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, std::string("memctl: ") + kFailure + "\n");
}

TEST(Memctl, PartlyFailedBatchPrintsWhatWasAllocated) {
  FakeMemd fake([](const std::string&, const std::string&) {
    Json reply = Json::parse(kAllocReply);
    reply["ok"] = false;
    reply["error"] = kFailure;
    return reply.dump();
  });
  Outcome r = memctl({"alloc", "--order", "3", "--movable", "--count", "3"}, at(fake));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(count_lines(r.out), 3u);  // header and two allocations
  EXPECT_EQ(r.err, std::string("memctl: ") + kFailure + "\n");
}

TEST(Memctl, JsonPrintsTheReplyUntouched) {
  const std::string reply = std::string(kAllocReply);
  FakeMemd fake([&](const std::string&, const std::string&) { return reply; });
  Outcome r = memctl({"--json", "alloc", "--order", "3"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, reply + "\n");
  const std::string refused = R"({"ok":false,"error":"free: pfn=0x10: not the first page"})";
  FakeMemd no([&](const std::string&, const std::string&) { return refused; });
  r = memctl({"free", "0x10", "--json"}, at(no));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(r.out, refused + "\n");
  EXPECT_EQ(r.err, "memctl: free: pfn=0x10: not the first page\n");
}

TEST(Memctl, FreeSendsPfnsIdsOrAll) {
  FakeMemd fake([](const std::string& line, const std::string&) {
    if (line.find("all") != std::string::npos) return std::string(R"({"ok":true,"count":12})");
    return std::string(
        R"({"ok":true,"freed":[{"id":7,"pfn":"0x1f400","order":3,"zone":"Normal","node":0,"migratetype":"Movable"}],"count":1})");
  });
  Outcome r = memctl({"free", "0x1f400"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "freed 1 allocation\n"
            "      ID  PFN          ORDER  ZONE     NODE  MIGRATETYPE\n"
            "       7  0x1f400          3  Normal      0  Movable\n");
  r = memctl({"free", "--id", "7", "8", "--cpu", "1"}, at(fake));
  EXPECT_EQ(r.status, 0);
  r = memctl({"free", "--all"}, at(fake));
  EXPECT_EQ(r.out, "freed 12 allocations\n");
  EXPECT_EQ(fake.lines(),
            (std::vector<std::string>{"free pfn=0x1f400", "free id=7 id=8 cpu=1", "free all"}));
}

TEST(Memctl, AllocationsSendsTheFiltersAndPrintsTheList) {
  FakeMemd fake([](const std::string& line, const std::string&) {
    if (line.find("zone=Normall") != std::string::npos) {
      return std::string(
          R"({"ok":false,"error":"allocations: zone=Normall: the machine's zones are DMA, DMA32, Normal, Movable, Device","failure":"bad_input"})");
    }
    return std::string(
        R"({"ok":true,"allocations":[{"id":7,"pfn":"0x1f400","order":3,"zone":"Movable","node":0,"migratetype":"Movable"}],"count":1,"matched":4})");
  });
  Outcome r = memctl({"allocations", "--zone", "Movable", "--node", "0", "--migratetype", "Movable",
                      "--order", "3", "--after", "6", "--limit", "1"},
                     at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "      ID  PFN          ORDER  ZONE     NODE  MIGRATETYPE\n"
            "       7  0x1f400          3  Movable     0  Movable\n"
            "1 of 4 allocations\n"
            "the next ones: --after 7\n");
  r = memctl({"allocations"}, at(fake));
  EXPECT_EQ(r.status, 0);
  r = memctl({"allocations", "--zone", "Normall"}, at(fake));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "memctl: allocations: zone=Normall: the machine's zones are DMA, DMA32, Normal, "
            "Movable, Device\n");
  EXPECT_EQ(fake.lines(),
            (std::vector<std::string>{
                "allocations zone=Movable node=0 migratetype=Movable order=3 after=6 limit=1",
                "allocations", "allocations zone=Normall"}));
  // Out of range: memctl's own usage error, nothing sent.
  EXPECT_EQ(memctl({"allocations", "--limit", "0"}, at(fake)).status, 2);
  EXPECT_EQ(memctl({"allocations", "--order", "11"}, at(fake)).status, 2);
  EXPECT_EQ(fake.lines().size(), 3u);
}

TEST(Memctl, OfflineAndOnlineSendTheMemoryVerb) {
  FakeMemd fake([](const std::string& line, const std::string&) {
    if (line == "memory offline block=14") {
      return std::string(
          R"({"ok":true,"block":14,"state":"offline","zone":"Movable","pages":32768,"migrated":3,"migrated_pages":10,"message":"Offlined Pages 32768"})");
    }
    if (line == "memory offline block=9") {
      return std::string(
          R"({"ok":false,"error":"memory offline block=9: memory offlining [mem 0x48000000-0x4fffffff] failed due to failure to isolate range","failure":"busy"})");
    }
    return std::string(
        R"({"ok":true,"block":14,"state":"online","zone":"Normal","pages":32768,"message":"Onlined Pages 32768"})");
  });
  Outcome r = memctl({"offline", "14"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "memory14: offline (from Movable): Offlined Pages 32768; 3 allocations (10 pages) "
            "migrated\n");
  r = memctl({"offline", "9"}, at(fake));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "memctl: memory offline block=9: memory offlining [mem 0x48000000-0x4fffffff] failed "
            "due to failure to isolate range\n");
  r = memctl({"online", "14", "--kernel"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "memory14: online in Normal: Onlined Pages 32768\n");
  EXPECT_EQ(memctl({"online", "14", "--movable"}, at(fake)).status, 0);
  EXPECT_EQ(memctl({"online", "14"}, at(fake)).status, 0);
  EXPECT_EQ(fake.lines(), (std::vector<std::string>{
                              "memory offline block=14", "memory offline block=9",
                              "memory online block=14 zone=kernel",
                              "memory online block=14 zone=movable", "memory online block=14"}));
  // memctl's own usage errors: nothing sent.
  EXPECT_EQ(memctl({"online", "14", "--kernel", "--movable"}, at(fake)).status, 2);
  EXPECT_EQ(memctl({"offline"}, at(fake)).status, 2);
  EXPECT_EQ(fake.lines().size(), 5u);
}

// --- exit statuses by the kind of refusal ---------------------------------------------------

TEST(Memctl, VersionIsMemdsVersion) {
  Outcome r = memctl({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, std::string(MEMD_VERSION) + "\n");
  EXPECT_EQ(r.err, "");
}

TEST(Memctl, RefusalsExitByTheirFailureKind) {
  const std::string why = "alloc: order=20: out of range (0-10)";
  for (const auto& [failure, status] : std::vector<std::pair<std::string, int>>{
           {"bad_input", client::kExitUsage},
           {"alloc_failed", client::kExitRefused},
           {"busy", client::kExitRefused},
           {"denied", client::kExitRefused},
           {"check_failed", client::kExitRefused},
           {"internal", client::kExitRefused},
           {"a_kind_of_a_newer_memd", client::kExitRefused},
           {"", client::kExitRefused},  // a memd that names no failure
       }) {
    SCOPED_TRACE(failure);
    Json reply{{"ok", false}, {"error", why}};
    if (!failure.empty()) reply["failure"] = failure;
    FakeMemd fake([&](const std::string&, const std::string&) { return reply.dump(); });
    Outcome r = memctl({"alloc", "--order", "20"}, at(fake));
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "memctl: " + why + "\n");
    r = memctl({"--json", "alloc", "--order", "20"}, at(fake));
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.out, reply.dump() + "\n");
  }
}

TEST(Memctl, ACommandLongerThanALineIsAUsageErrorSentToNoOne) {
  FakeMemd fake(
      [](const std::string&, const std::string&) { return std::string("{\"ok\":true}"); });
  // "sysctl x=" and the value: 65537 bytes with the newline, then 65536.
  Outcome r = memctl({"sysctl", "x=" + std::string(65536 - 9, '1')}, at(fake));
  EXPECT_EQ(r.status, client::kExitUsage);
  EXPECT_EQ(r.err,
            "memctl: sysctl: the command is 65537 bytes long; memd takes lines of at most 65536 "
            "bytes, newline included\n");
  r = memctl({"sysctl", "x=" + std::string(65536 - 10, '1')}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(fake.lines().size(), 1u);
  EXPECT_EQ(fake.lines()[0].size(), 65535u);
}

// --- a free of more targets than one line takes ---------------------------------------------

// `seq 10 8 258000`: the ids of the issue's example, 10 to 257994, 32249 of them.
// `seq 10 8 last`.
std::vector<uint64_t> seq_ids(uint64_t last = 258000) {
  std::vector<uint64_t> ids;
  for (uint64_t id = 10; id <= last; id += 8) {
    ids.push_back(id);
  }
  return ids;
}

// memctl ARGS --id $(seq 10 8 120000): 14999 ids, three lines' worth.
std::vector<std::string> seq_args(std::vector<std::string> args) {
  args.push_back("--id");
  for (uint64_t id : seq_ids(120000)) {
    args.push_back(std::to_string(id));
  }
  return args;
}

TEST(Request, FreeCutsALongListIntoLinesUnderTheLimitInOrder) {
  client::FreeRequest r;
  r.ids = seq_ids();
  r.pfns = {"0x100000", "1048584"};
  r.cpu = 1;
  auto parts = client::free_commands(r);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 5u);  // 32251 targets of 8 to 12 bytes: 308 KB
  std::vector<protocol::FreeTarget> sent;
  size_t next = 0;
  for (size_t i = 0; i < parts->size(); ++i) {
    const client::FreePart& p = (*parts)[i];
    EXPECT_LT(p.line.size(), 65536u);  // and its newline: at most 65536
    EXPECT_EQ(p.first, next);
    next += p.count;
    EXPECT_EQ(p.line.substr(p.line.size() - 6), " cpu=1");
    auto c = protocol::parse_command(p.line + "\n");
    ASSERT_TRUE(c.ok()) << c.error().message;
    const auto& f = std::get<protocol::FreeCommand>(*c);
    EXPECT_EQ(f.cpu, 1);
    EXPECT_EQ(f.targets.size(), p.count);
    sent.insert(sent.end(), f.targets.begin(), f.targets.end());
    // Full: the next part's first target would not have fitted in this one.
    if (i + 1 < parts->size()) {
      const std::string& l = (*parts)[i + 1].line;
      const std::string word = l.substr(5, l.find(' ', 5) - 5);
      EXPECT_GT(p.line.size() + 1 + word.size(), 65535u) << i;
    }
  }
  ASSERT_EQ(sent.size(), 32251u);
  using Kind = protocol::FreeTarget::Kind;
  EXPECT_EQ(sent[0], (protocol::FreeTarget{Kind::kPfn, 0x100000}));
  EXPECT_EQ(sent[1], (protocol::FreeTarget{Kind::kPfn, 0x100008}));
  for (size_t i = 2; i < sent.size(); ++i) {
    ASSERT_EQ(sent[i], (protocol::FreeTarget{Kind::kId, 10 + 8 * (i - 2)})) << i;
  }
  // A short list stays one line, as free_command writes it.
  r.ids = {7, 8};
  parts = client::free_commands(r);
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ(parts->front().line, "free pfn=0x100000 pfn=0x100008 id=7 id=8 cpu=1");
  // A long list naming a target twice is refused before anything is sent,
  // as memd refuses one line that does.
  r.ids = seq_ids();
  r.ids.push_back(257994);  // the last one
  parts = client::free_commands(r);
  ASSERT_FALSE(parts.ok());
  EXPECT_EQ(parts.error().message, "id=257994 given twice");
  r.ids = seq_ids();
  r.pfns = {"0x100000", "1048576"};
  EXPECT_EQ(client::free_commands(r).error().message, "pfn=0x100000 given twice");
}

// A memd that frees every id it is given (pfn = 16 * id), refusing `refuse`.
std::string free_ids_reply(const std::string& line, uint64_t refuse) {
  Json freed = Json::array();
  std::istringstream words(line);
  std::string w;
  while (words >> w) {
    if (w.rfind("id=", 0) != 0) continue;
    const uint64_t id = std::stoull(w.substr(3));
    if (id == refuse) {
      return Json{{"ok", false},
                  {"error", "free: id=" + std::to_string(id) + ": no live allocation has this id"},
                  {"failure", "bad_input"}}
          .dump();
    }
    freed.push_back(Json{{"id", id},
                         {"pfn", fmt::format("{:#x}", 16 * id)},
                         {"order", 0},
                         {"zone", "Normal"},
                         {"node", 0},
                         {"migratetype", "Unmovable"}});
  }
  const size_t n = freed.size();
  return Json{{"ok", true}, {"freed", std::move(freed)}, {"count", n}}.dump();
}

TEST(Memctl, ALongFreeIsSentInPartsAndAnsweredAsOne) {
  FakeMemd fake(
      [](const std::string& line, const std::string&) { return free_ids_reply(line, 0); });
  Outcome r = memctl(seq_args({"--json", "free"}), at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  const auto lines = fake.lines();
  ASSERT_EQ(lines.size(), 3u);  // 7435, 7059 and 505 ids: 65534, 65530 and 5054 bytes
  EXPECT_EQ(lines[0].size(), 65534u);
  EXPECT_EQ(lines[1].size(), 65530u);
  EXPECT_EQ(lines[2].size(), 5054u);
  const Json reply = Json::parse(r.out);
  EXPECT_EQ(count_lines(r.out), 1u);
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["count"], 14999);
  ASSERT_EQ(reply["freed"].size(), 14999u);
  for (size_t i = 0; i < 14999; ++i) {
    ASSERT_EQ(reply["freed"][i]["id"], 10 + 8 * i) << i;
  }
  r = memctl(seq_args({"free"}), at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(count_lines(r.out), 2u + 14999u);
  EXPECT_EQ(r.out.rfind("freed 14999 allocations\n      ID  PFN", 0), 0u);
  EXPECT_NE(r.out.find("\n  119994  0x1d4ba0         0  Normal      0  Unmovable\n"),
            std::string::npos);
}

TEST(Memctl, ALongFreeRefusedInALaterPartSaysWhatWasFreed) {
  // 100002 is target 12500, in the second part of three (targets 7436-14494).
  FakeMemd fake(
      [](const std::string& line, const std::string&) { return free_ids_reply(line, 100002); });
  Outcome r = memctl(seq_args({"free"}), at(fake));
  EXPECT_EQ(r.status, client::kExitUsage);  // memd's bad_input
  ASSERT_EQ(fake.lines().size(), 2u);       // the third part is not sent
  EXPECT_EQ(r.out.rfind("freed 7435 allocations\n", 0), 0u);
  EXPECT_EQ(count_lines(r.out), 2u + 7435u);
  EXPECT_EQ(r.err,
            "memctl: free: id=100002: no live allocation has this id (memd refused part 2 of 3, "
            "targets 7436-14494 of 14999 and freed none of them; part 1 (targets 1-7435) was "
            "freed: 7435 allocations; targets 14495-14999 were not sent)\n");
  r = memctl(seq_args({"--json", "free"}), at(fake));
  EXPECT_EQ(r.status, client::kExitUsage);
  const Json reply = Json::parse(r.out);
  EXPECT_EQ(std::vector<std::string>({"ok", "error", "failure", "freed", "count"}), [&] {
    std::vector<std::string> keys;
    for (const auto& [k, v] : reply.items())
      keys.push_back(k);
    return keys;
  }());
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["failure"], "bad_input");
  EXPECT_EQ(reply["count"], 7435);
  EXPECT_EQ(reply["freed"].size(), 7435u);
  // Refused in the first part: memd's reply as it is, nothing freed.
  FakeMemd first(
      [](const std::string& line, const std::string&) { return free_ids_reply(line, 18); });
  r = memctl(seq_args({"free"}), at(first));
  EXPECT_EQ(r.status, client::kExitUsage);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "memctl: free: id=18: no live allocation has this id\n");
  EXPECT_EQ(first.lines().size(), 1u);
  // memd gone after the first part: exit 3, what was freed, and what may have been.
  FakeMemd gone([](const std::string& line, const std::string&) {
    return line.find(" id=10 ") != std::string::npos ? free_ids_reply(line, 0) : std::string();
  });
  r = memctl(seq_args({"free"}), at(gone));
  EXPECT_EQ(r.status, client::kExitUnreachable);
  EXPECT_EQ(r.out.rfind("freed 7435 allocations\n", 0), 0u);
  EXPECT_EQ(r.err,
            "memctl: memd closed the connection without replying (it may or may not have freed "
            "part 2 of 3, targets 7436-14494 of 14999; part 1 (targets 1-7435) was freed: 7435 "
            "allocations; targets 14495-14999 were not sent)\n");
}

TEST(Memctl, ShowPrintsTheFileExactly) {
  const std::string text = "Node 0, zone      DMA      0      1 \nNode 0, zone   Normal      3 \n";
  FakeMemd fake([&](const std::string&, const std::string&) {
    return Json{{"ok", true}, {"text", text}}.dump();
  });
  for (const char* f :
       {"buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "extfrag_index",
        "unusable_index", "pageblocks.svg", "memory/block_size_bytes", "memory/memory8/valid_zones",
        "memory/memory0/online"}) {
    Outcome r = memctl({"show", f}, at(fake));
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, text);
    EXPECT_EQ(fake.lines().back(), std::string("show ") + f);
  }
}

TEST(Memctl, Sysctl) {
  FakeMemd fake([](const std::string& line, const std::string&) {
    if (line == "sysctl bogus") {
      return std::string(R"({"ok":false,"error":"sysctl: unknown sysctl 'bogus'"})");
    }
    return std::string(
        R"({"ok":true,"sysctl":{"min_free_kbytes":67584,"lowmem_reserve_ratio":[256,256,32,0,0]}})");
  });
  Outcome r = memctl({"sysctl"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "vm.min_free_kbytes = 67584\nvm.lowmem_reserve_ratio = 256\t256\t32\t0\t0\n");
  r = memctl({"sysctl", "min_free_kbytes=70000"}, at(fake));
  EXPECT_EQ(r.status, 0);
  r = memctl({"sysctl", "bogus"}, at(fake));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(r.err, "memctl: sysctl: unknown sysctl 'bogus'\n");
  EXPECT_EQ(fake.lines(),
            (std::vector<std::string>{"sysctl", "sysctl min_free_kbytes=70000", "sysctl bogus"}));
}

TEST(Memctl, CheckResetStatus) {
  bool broken = false;
  FakeMemd fake([&](const std::string& line, const std::string&) {
    if (line == "check" && broken) {
      return std::string(R"({"ok":false,"error":"check: 2 problems: a","problems":["a","b"]})");
    }
    if (line == "check") return std::string(R"({"ok":true,"problems":[]})");
    if (line == "reset") {
      return std::string(R"({"ok":true,"machine":"x86_64, 4095 MiB in 1 node, 2 CPUs"})");
    }
    return std::string(
        R"({"ok":true,"machine":{"shape":"x86_64, 4095 MiB in 1 node, 2 CPUs","arch":"x86_64",)"
        R"("nodes":1,"cpus":2,"cmdline":"","zones":[{"node":0,"zone":"DMA","start_pfn":1,)"
        R"("spanned":4095,"present":3998,"managed":3840,"free":3840}]},"live_allocations":3,)"
        R"("counters":{"pgalloc":10,"pgfree":7},"replaying":false,"pid":42})");
  });
  Outcome r = memctl({"check"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "ok: every invariant holds\n");
  broken = true;
  r = memctl({"check"}, at(fake));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(r.out, "a\nb\n");
  EXPECT_EQ(r.err, "memctl: check: 2 problems: a\n");
  r = memctl({"reset"}, at(fake));
  EXPECT_EQ(r.out, "machine reset: x86_64, 4095 MiB in 1 node, 2 CPUs\n");
  r = memctl({"status"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "memd pid 42: x86_64, 4095 MiB in 1 node, 2 CPUs\n"
            "NODE  ZONE        START_PFN    SPANNED    PRESENT    MANAGED       FREE\n"
            "   0  DMA               0x1       4095       3998       3840       3840\n"
            "live allocations: 3\n"
            "pgalloc 10, pgfree 7\n"
            "replay running: no\n");
}

// --- replay ---------------------------------------------------------------------------------

// A fake daemon that speaks the streaming replay protocol and counts lines.
// A begin with every=N gets a "history" in each reply: "header\n" and "at
// begin\n", "frame N\n", "at end\n".
struct ReplayFake {
  uint64_t lines = 0;
  std::string busy_reply;
  std::function<void(int frame)> on_frame;
  int frames = 0;
  bool history = false;
  std::string reply(Json j, const std::string& rows) const {
    if (history) j["history"] = rows;
    return j.dump();
  }
  FakeMemd fake{[this](const std::string& line, const std::string& payload) -> std::string {
    if (line.rfind("replay begin", 0) == 0) {
      history = line.find("every=") != std::string::npos;
      return busy_reply.empty() ? reply({{"ok", true}}, "header\nat begin\n") : busy_reply;
    }
    if (line.rfind("replay data bytes=", 0) == 0) {
      lines += std::count(payload.begin(), payload.end(), '\n');
      ++frames;
      if (on_frame) on_frame(frames);
      return reply({{"ok", true}, {"lines", lines}}, "frame " + std::to_string(frames) + "\n");
    }
    if (line == "replay end" || line == "replay abort") {
      Json report = Json::object();
      report["lines"] = lines;
      report["applied"] = lines;
      report["malformed"] = Json::array({Json{{"line", 3}, {"reason", "mm_page_alloc: bad pfn"}}});
      return reply({{"ok", true}, {"report", report}}, "at end\n");
    }
    return R"({"ok":false,"error":"unexpected"})";
  }};
};

// A file in a fresh temporary directory, both removed at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content, bool gz) {
    char tmpl[] = "/tmp/memctl-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/" + name;
    if (gz) {
      gzFile f = gzopen(path_.c_str(), "wb");
      gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
      gzclose(f);
    } else {
      std::ofstream(path_, std::ios::binary) << content;
    }
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

std::string big_trace(size_t lines) {
  std::string t;
  for (size_t i = 0; i < lines; ++i) {
    t += "  cc1plus-4451  [001] .....   222.995046: mm_page_alloc: page=00000000d075e96b pfn=0x" +
         std::to_string(100000 + i) + " order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE\n";
  }
  return t;
}

TEST(MemctlReplay, StreamsTheFileInFramesCutAtLineEnds) {
  const std::string content = big_trace(20000) + "last line without newline";
  for (bool gz : {false, true}) {
    SCOPED_TRACE(gz);
    ReplayFake f;
    const TempFile file(gz ? "t.trace.gz" : "t.trace", content, gz);
    const std::string& path = file.path();
    Outcome r = memctl({"replay", path}, at(f.fake));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");  // not a terminal: no progress
    const auto lines = f.fake.lines();
    ASSERT_GE(lines.size(), 4u);
    EXPECT_EQ(lines.front(), "replay begin");
    EXPECT_EQ(lines.back(), "replay end");
    std::string joined;
    const auto payloads = f.fake.payloads();
    EXPECT_GT(payloads.size(), 4u);  // the file is ~2.6 MB
    for (size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ(lines[i + 1], "replay data bytes=" + std::to_string(payloads[i].size()));
      EXPECT_LE(payloads[i].size(), 256u << 10);
      if (i + 1 < payloads.size()) {
        EXPECT_EQ(payloads[i].back(), '\n');
      }
      joined += payloads[i];
    }
    EXPECT_EQ(joined, content);
    EXPECT_NE(r.out.find("replayed " + path + ": 20000 lines in "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  lines         20000\n  applied       20000\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  line 3: mm_page_alloc: bad pfn\n"), std::string::npos) << r.out;
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(MemctlReplay, HistoryGoesToTheFileAsTheRepliesBringIt) {
  ReplayFake f;
  const TempFile file("h.trace", big_trace(20000), false);
  const std::string csv = file.path() + ".csv";
  std::ofstream(csv) << "old content, truncated\n";
  Outcome r = memctl({"replay", file.path(), "--history", csv, "--every", "500"}, at(f.fake));
  EXPECT_EQ(r.status, 0) << r.err;
  const auto lines = f.fake.lines();
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front(), "replay begin every=500");
  std::string want = "header\nat begin\n";
  for (int i = 1; i <= f.frames; ++i) {
    want += "frame " + std::to_string(i) + "\n";
  }
  EXPECT_GT(f.frames, 4);
  EXPECT_EQ(slurp(csv), want + "at end\n");
  // Without --every, every 1000 events; without --history, no history.
  memctl({"replay", file.path(), "--history", csv}, at(f.fake));
  EXPECT_EQ(f.fake.lines()[lines.size()], "replay begin every=1000");
  memctl({"replay", file.path()}, at(f.fake));
  EXPECT_EQ(f.fake.lines()[2 * lines.size()], "replay begin");
}

TEST(MemctlReplay, ContinueSaysSo) {
  ReplayFake f;
  const TempFile file("c.trace", big_trace(10), false);
  Outcome r = memctl({"replay", "--continue", file.path()}, at(f.fake));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(f.fake.lines().front(), "replay begin continue");
  EXPECT_EQ(r.out.find("replayed " + file.path() +
                       ", continuing the previous replay: 10 lines in all, this part in "),
            0u)
      << r.out;
}

TEST(MemctlReplay, BadHistoryOptionsAskMemdNothing) {
  ReplayFake f;
  const TempFile file("b.trace", big_trace(10), false);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"replay", file.path(), "--history", "/nonexistent/dir/h.csv"},
           {"replay", file.path(), "--history", file.path() + ".csv", "--every", "0"},
           {"replay", file.path(), "--history", file.path() + ".csv", "--every", "x"},
           {"replay", file.path(), "--every", "10"}}) {
    Outcome r = memctl(args, at(f.fake));
    EXPECT_EQ(r.status, client::kExitUsage) << args.back();
    expect_one_error_line(r);
  }
  EXPECT_TRUE(f.fake.lines().empty());
  EXPECT_FALSE(std::filesystem::exists(file.path() + ".csv"));
  Outcome r = memctl({"replay", file.path(), "--history", "/nonexistent/dir/h.csv"}, at(f.fake));
  EXPECT_EQ(r.err,
            "memctl: cannot write the history to /nonexistent/dir/h.csv: No such file or "
            "directory\n");
}

TEST(MemctlReplay, JsonPrintsTheFinalReply) {
  ReplayFake f;
  const TempFile file("small.trace", big_trace(10), false);
  const std::string& path = file.path();
  Outcome r = memctl({"--json", "replay", path}, at(f.fake));
  EXPECT_EQ(r.status, 0);
  ASSERT_EQ(count_lines(r.out), 1u);
  Json reply = Json::parse(r.out);
  EXPECT_EQ(reply["report"]["lines"], 10);
}

TEST(MemctlReplay, BusyDaemonExits1) {
  ReplayFake f;
  f.busy_reply = R"({"ok":false,"error":"replay begin: another replay is running"})";
  const TempFile file("small.trace", big_trace(10), false);
  const std::string& path = file.path();
  Outcome r = memctl({"replay", path}, at(f.fake));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(r.err, "memctl: replay begin: another replay is running\n");
  EXPECT_EQ(f.fake.lines(), std::vector<std::string>{"replay begin"});
}

TEST(MemctlReplay, ProgressOnATerminalOnly) {
  ReplayFake f;
  f.on_frame = [](int) { usleep(120 * 1000); };  // slow enough for the progress to show
  const TempFile file("p.trace", big_trace(8000), false);
  const std::string& path = file.path();
  client::Environment env = at(f.fake);
  env.stderr_is_tty = true;
  env.columns = 60;
  Outcome r = memctl({"replay", path}, env);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.err.find("\rreplay p.trace ["), std::string::npos) << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() - 4), "\r\033[K");  // cleared at the end
  EXPECT_EQ(r.err.find('\n'), std::string::npos);
}

TEST(MemctlReplay, InterruptAbortsBetweenFramesAndExits130) {
  ReplayFake f;
  f.on_frame = [](int frame) {
    if (frame == 2) kill(getpid(), SIGINT);
  };
  const TempFile file("i.trace", big_trace(20000), false);
  const std::string& path = file.path();
  Outcome r = memctl({"replay", path}, at(f.fake));
  EXPECT_EQ(r.status, client::kExitInterrupted);
  // replay begin, the frames up to the interrupted one and the one in flight
  // behind it (memctl keeps two frames in flight), then the abort.
  const auto lines = f.fake.lines();
  ASSERT_GE(lines.size(), 4u);
  ASSERT_LE(lines.size(), 5u);
  EXPECT_EQ(lines.back(), "replay abort");
  EXPECT_NE(r.out.find("interrupted after " + std::to_string(f.lines) + " lines"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  applied"), std::string::npos);  // the partial report
  expect_one_error_line(r);
  // The handler is gone again: SIGINT is back to its default.
  struct sigaction sa {};
  sigaction(SIGINT, nullptr, &sa);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);
}

// --- output from canned JSON ------------------------------------------------------------------

TEST(Output, UnexpectedRepliesArePrintedAsJson) {
  EXPECT_EQ(client::format_alloc(Json{{"ok", true}}), "{\n  \"ok\": true\n}\n");
  EXPECT_EQ(client::error_message(Json{{"ok", false}}),
            R"(memd refused the command: {"ok":false})");
  EXPECT_EQ(client::error_message(Json{{"ok", false}, {"error", "two\nlines"}}), "two lines");
}

TEST(Output, ReportAlignsCountersAndListsMalformedLines) {
  Json report =
      Json::parse(R"({"lines":12,"applied_allocs":3,"malformed":[{"line":2,"reason":"x"}]})");
  EXPECT_EQ(client::format_report(report),
            "  lines                   12\n"
            "  applied_allocs           3\n"
            "malformed or refused lines (the first 1):\n"
            "  line 2: x\n");
}

TEST(Output, ProgressLineFitsItsWidth) {
  for (int width : {20, 40, 79, 200}) {
    const std::string p =
        client::progress_line("a-very-long-trace-file-name.trace.gz", 50, 100, 123456, 2.0, width);
    EXPECT_LE(p.size(), static_cast<size_t>(width)) << p;
  }
  EXPECT_EQ(client::progress_line("t.gz", 50, 100, 1000, 1.0, 60),
            "replay t.gz [#######........]  50%  1000 lines  1000 lines/s");
}

// --- snapshot save / load ----------------------------------------------------------------------

// A temporary directory for the files memctl writes and reads.
class SnapshotFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/memctl-snapshot.XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir;
};

// Binary, with newlines and NULs: nothing of it may be taken for a line.
const std::string kState("MEMDST01\n\0\x01\xff{\"ok\":false}\n", 23);
const std::string kSaveReply = R"({"ok":true,"bytes":23,"allocations":3})";

FakeMemd::Handler saves(std::string state = kState) {
  return [state](const std::string& line, const std::string&) {
    if (line != "snapshot save") return std::string(R"({"ok":false,"error":"unexpected"})");
    return kSaveReply + "\n" + state;
  };
}

TEST_F(SnapshotFiles, SaveWritesTheBytesAfterTheReplyToTheFile) {
  FakeMemd fake(saves());
  const std::string file = dir + "/machine.state";
  Outcome r = memctl({"snapshot", "save", file}, at(fake));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "saved 3 allocations (23 bytes) to " + file + "\n");
  EXPECT_EQ(fake.lines(), std::vector<std::string>{"snapshot save"});
  EXPECT_EQ(slurp(file), kState);
  EXPECT_EQ(entries(), std::vector<std::string>{"machine.state"});  // no temporary file left
  // Again, over the old file: replaced.
  FakeMemd other(saves(std::string(23, 'x')));
  EXPECT_EQ(memctl({"snapshot", "save", file}, at(other)).status, 0);
  EXPECT_EQ(slurp(file), std::string(23, 'x'));
}

TEST_F(SnapshotFiles, SaveToStdoutAndJson) {
  FakeMemd fake(saves());
  Outcome r = memctl({"snapshot", "save", "-"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, kState);  // the bytes and nothing else
  EXPECT_EQ(r.err, "");
  r = memctl({"--json", "snapshot", "save", dir + "/s"}, at(fake));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, kSaveReply + "\n");
  EXPECT_EQ(slurp(dir + "/s"), kState);
  r = memctl({"snapshot", "save", "-", "--json"}, at(fake));  // both would go to stdout
  EXPECT_EQ(r.status, client::kExitUsage);
  expect_one_error_line(r);
}

TEST_F(SnapshotFiles, SaveRefusedOrCutShortLeavesTheOldFile) {
  const std::string file = dir + "/machine.state";
  std::ofstream(file) << "the old state";
  FakeMemd refuses([](const std::string&, const std::string&) {
    return std::string(R"({"ok":false,"error":"snapshot: no"})");
  });
  Outcome r = memctl({"snapshot", "save", file}, at(refuses));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(r.err, "memctl: snapshot: no\n");
  EXPECT_EQ(r.out, "");
  // memd goes away 10 bytes into a 100-byte state.
  FakeMemd cut([](const std::string&, const std::string&) {
    return std::string(R"({"ok":true,"bytes":100,"allocations":1})") + "\n0123456789";
  });
  cut.close_after_reply();
  r = memctl({"snapshot", "save", file}, at(cut));
  EXPECT_EQ(r.status, client::kExitUnreachable);
  expect_one_error_line(r);
  EXPECT_NE(r.err.find("bytes short"), std::string::npos) << r.err;
  // A reply without a byte count.
  FakeMemd odd(
      [](const std::string&, const std::string&) { return std::string(R"({"ok":true})"); });
  r = memctl({"snapshot", "save", file}, at(odd));
  EXPECT_EQ(r.status, client::kExitUnreachable);
  expect_one_error_line(r);
  EXPECT_EQ(slurp(file), "the old state");
  EXPECT_EQ(entries(), std::vector<std::string>{"machine.state"});
}

TEST_F(SnapshotFiles, SaveToAPlaceThatCannotBeWrittenIsAUsageError) {
  client::Environment env;
  env.memd_socket = "/nonexistent/memd.sock";  // checked before memd is asked
  Outcome r = memctl({"snapshot", "save", dir + "/no/such/dir/state"}, env);
  EXPECT_EQ(r.status, client::kExitUsage);
  expect_one_error_line(r);
  EXPECT_NE(r.err.find(dir + "/no/such/dir/state"), std::string::npos);
  r = memctl({"snapshot", "save", dir}, env);
  EXPECT_EQ(r.status, client::kExitUsage);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos);
  EXPECT_EQ(memctl({"snapshot", "save", dir + "/s"}, env).status, client::kExitUnreachable);
  EXPECT_TRUE(entries().empty());
}

TEST_F(SnapshotFiles, LoadSendsTheFileAfterTheLine) {
  const std::string file = dir + "/machine.state";
  std::ofstream(file, std::ios::binary) << kState;
  FakeMemd fake([](const std::string&, const std::string& payload) {
    return Json{{"ok", true},
                {"machine", "x86_64, 4095 MiB in 1 node, 2 CPUs"},
                {"allocations", payload.size()}}
        .dump();
  });
  Outcome r = memctl({"snapshot", "load", file}, at(fake));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "loaded " + file + ": x86_64, 4095 MiB in 1 node, 2 CPUs, 23 allocations\n");
  EXPECT_EQ(fake.lines(), std::vector<std::string>{"snapshot load bytes=23"});
  EXPECT_EQ(fake.payloads(), std::vector<std::string>{kState});
  r = memctl({"--json", "snapshot", "load", file}, at(fake));
  EXPECT_EQ(r.out, R"({"ok":true,"machine":"x86_64, 4095 MiB in 1 node, 2 CPUs","allocations":23})"
                   "\n");
}

TEST_F(SnapshotFiles, LoadRefusedExits1) {
  const std::string file = dir + "/foreign.state";
  std::ofstream(file) << "MEMDST01 from elsewhere";
  const std::string refusal =
      "snapshot load: state refused: it was saved from a machine with a different configuration";
  FakeMemd fake([&](const std::string&, const std::string&) {
    return Json{{"ok", false}, {"error", refusal}}.dump();
  });
  Outcome r = memctl({"snapshot", "load", file}, at(fake));
  EXPECT_EQ(r.status, client::kExitRefused);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "memctl: " + refusal + "\n");
}

TEST_F(SnapshotFiles, LoadOfAMissingOrEmptyFileIsAUsageError) {
  client::Environment env;
  env.memd_socket = "/nonexistent/memd.sock";
  Outcome r = memctl({"snapshot", "load", dir + "/missing"}, env);
  EXPECT_EQ(r.status, client::kExitUsage);
  expect_one_error_line(r);
  EXPECT_NE(r.err.find(dir + "/missing: No such file or directory"), std::string::npos);
  std::ofstream(dir + "/empty").close();
  r = memctl({"snapshot", "load", dir + "/empty"}, env);
  EXPECT_EQ(r.status, client::kExitUsage);
  EXPECT_NE(r.err.find("it is empty"), std::string::npos);
  std::ofstream(dir + "/s") << "x";
  EXPECT_EQ(memctl({"snapshot", "load", dir + "/s"}, env).status, client::kExitUnreachable);
}

TEST(MemctlSnapshot, Help) {
  // Its usage errors are among UsageErrorsExit2WithOneLine's cases.
  for (const auto& args : std::vector<std::vector<std::string>>{{"snapshot", "--help"},
                                                                {"snapshot", "save", "--help"},
                                                                {"snapshot", "load", "--help"}}) {
    Outcome r = memctl(args);
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("Usage: memctl snapshot"), std::string::npos) << r.out;
  }
  EXPECT_NE(memctl({"--help"}).out.find("snapshot"), std::string::npos);
}

}  // namespace
}  // namespace memd::testing
