// The grammar on its own: lines to Commands and back, the gfp= hook, the
// lines that announce raw bytes. (The daemon's tests cover every error with
// the core's GFP vocabulary: tests/daemon/command_test.cpp.)
#include <gtest/gtest.h>

#include "protocol/command.h"

namespace memd::protocol {
namespace {

Command parse_ok(std::string_view line) {
  auto r = parse_command(line);
  EXPECT_TRUE(r.ok()) << line << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Command{HelpCommand{}};
}

std::string format_ok(const Command& c) {
  auto r = format_command(c);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : "";
}

// Lines as format_command writes them: parsing and writing give the same line.
TEST(Grammar, CanonicalLinesRoundTrip) {
  for (const char* line : {
           "alloc order=0 gfp=GFP_KERNEL",
           "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE count=2 cpu=0 node=0",
           "alloc order=10 gfp=\"GFP_KERNEL count=100000\" count=100000 cpu=8191 node=1023",
           "free pfn=0x1f400 id=7 pfn=0xc cpu=1",
           "free all",
           "free all cpu=3",
           "allocations",
           "allocations zone=Movable node=1 migratetype=Movable order=3 after=1000 limit=100000",
           "memory offline block=14",
           "memory online block=0",
           "memory online block=33554431 zone=kernel",
           "memory online block=14 zone=movable",
           "sysctl",
           "sysctl min_free_kbytes",
           "sysctl watermark_scale_factor=200",
           "sysctl lowmem_reserve_ratio=\"256 256 32 0 0\"",
           "show buddyinfo",
           "replay file=\"/tmp/my trace.gz\"",
           "replay begin",
           "replay begin every=1000",
           "replay begin continue",
           "replay begin every=1 continue",
           "replay data bytes=4096",
           "replay end",
           "replay abort",
           "snapshot save",
           "snapshot load bytes=1234",
           "reset",
           "check",
           "status",
           "help",
           "trace",
           "trace on mm_page_alloc,mm_page_free",
           "trace on all",
           "trace off",
           "trace off mm_page_pcpu_drain",
           "trace buffer_size_kb=4096",
           "trace clear",
       }) {
    EXPECT_EQ(format_ok(parse_ok(line)), line);
  }
}

// Other spellings parse to the same command, written back in the canonical one.
TEST(Grammar, SpellingsNormalise) {
  EXPECT_EQ(format_ok(parse_ok("alloc  node=1\tgfp=GFP_KERNEL order=0x3 count=0x10\r\n")),
            "alloc order=3 gfp=GFP_KERNEL count=16 node=1");
  EXPECT_EQ(format_ok(parse_ok("free pfn=128000 cpu=0")), "free pfn=0x1f400 cpu=0");
  EXPECT_EQ(format_ok(parse_ok("sysctl vm.lowmem_reserve_ratio=\"256 256 32\"")),
            "sysctl lowmem_reserve_ratio=\"256 256 32\"");
  // Commas stay: the machine refuses them as the kernel's proc_dointvec does.
  EXPECT_EQ(format_ok(parse_ok("sysctl vm.lowmem_reserve_ratio=256,256,32")),
            "sysctl lowmem_reserve_ratio=256,256,32");
  EXPECT_EQ(format_ok(parse_ok("show file=zoneinfo")), "show zoneinfo");
  EXPECT_EQ(format_ok(parse_ok("  snapshot\tsave \n")), "snapshot save");
}

TEST(Grammar, CommandsRoundTrip) {
  AllocCommand alloc{2, "GFP_KERNEL|__GFP_ZERO", 1, 0, 5};
  FreeCommand free{{{FreeTarget::Kind::kId, 7}, {FreeTarget::Kind::kPfn, 0x1f400}}, false, 1};
  SysctlCommand sysctl{"lowmem_reserve_ratio", "256 256 32"};
  for (const Command& c : std::vector<Command>{
           alloc, AllocCommand{0, "none", {}, {}, {}}, free, FreeCommand{{}, true, {}}, sysctl,
           SysctlCommand{"min_free_kbytes", {}}, ShowCommand{"extfrag_index"},
           ReplayCommand{ReplayCommand::Op::kFile, "/a \"b\"\\c", 0},
           ReplayCommand{ReplayCommand::Op::kData, {}, kMaxReplayFrameBytes},
           SnapshotCommand{SnapshotCommand::Op::kLoad, kMaxSnapshotBytes}, StatusCommand{},
           AllocationsCommand{}, AllocationsCommand{"DMA32", 0, "Unmovable", 0, 0, 1},
           MemoryCommand{MemoryCommand::Op::kOffline, MemoryCommand::Zone::kDefault, 7},
           MemoryCommand{MemoryCommand::Op::kOnline, MemoryCommand::Zone::kMovable, 0}}) {
    const std::string line = format_ok(c);
    EXPECT_EQ(parse_ok(line), c) << line;
  }
}

TEST(Grammar, AbsentKeysStayAbsent) {
  auto c = std::get<AllocCommand>(parse_ok("alloc order=1 gfp=GFP_KERNEL"));
  EXPECT_FALSE(c.cpu);
  EXPECT_FALSE(c.count);
  EXPECT_FALSE(c.node);
  EXPECT_EQ(c.cpu_or_default(), kDefaultCpu);
  EXPECT_EQ(c.count_or_default(), kDefaultCount);
  EXPECT_FALSE(std::get<FreeCommand>(parse_ok("free all")).cpu);
}

TEST(Grammar, FormatRefusesWhatNoLineCarries) {
  EXPECT_FALSE(format_command(AllocCommand{0, "GFP_KERNEL\nreset", {}, {}, {}}).ok());
  EXPECT_FALSE(format_command(ShowCommand{"a\x01"}).ok());
  EXPECT_FALSE(format_command(SysctlCommand{"a\nb", "1"}).ok());
}

std::optional<std::string> only_kernel(std::string_view gfp) {
  if (gfp == "GFP_KERNEL") return std::nullopt;
  return "unknown flag '" + std::string(gfp) + "'";
}

TEST(Grammar, GfpCheckIsTheCallers) {
  // Without a check any text is taken; with one, a bad gfp= is a usage error.
  EXPECT_TRUE(parse_command("alloc order=0 gfp=GFP_BOGUS").ok());
  EXPECT_TRUE(parse_command("alloc order=0 gfp=GFP_KERNEL", only_kernel).ok());
  auto bad = parse_command("alloc order=0 gfp=GFP_BOGUS", only_kernel);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "alloc: gfp=GFP_BOGUS: unknown flag 'GFP_BOGUS' (usage: alloc order=N gfp=FLAGS "
            "[node=N] [cpu=N] [count=N])");
  EXPECT_EQ(usage_error("alloc", "gfp=GFP_BOGUS: unknown flag 'GFP_BOGUS'").message,
            bad.error().message);
}

TEST(Grammar, ErrorsAsTheSocketSendsThem) {
  EXPECT_EQ(parse_command("alloc order=2").error().message,
            "alloc: missing gfp= (usage: alloc order=N gfp=FLAGS [node=N] [cpu=N] [count=N])");
  EXPECT_EQ(
      parse_command("frob").error().message,
      "unknown command 'frob' (commands: alloc, free, allocations, memory, sysctl, show, replay, "
      "snapshot, reset, check, status, trace, help)");
  EXPECT_EQ(parse_command("allocations zone=\"Nor mal\"").error().message,
            "allocations: 'zone=Nor mal': not a name (usage: allocations [zone=NAME] [node=N] "
            "[migratetype=NAME] [order=N] [after=ID] [limit=N])");
  EXPECT_EQ(parse_command("allocations limit=0").error().message,
            "allocations: limit=0: must be in 1..100000 (usage: allocations [zone=NAME] [node=N] "
            "[migratetype=NAME] [order=N] [after=ID] [limit=N])");
  EXPECT_EQ(parse_command("allocations pfn=3").error().message,
            "allocations: unknown key 'pfn' (usage: allocations [zone=NAME] [node=N] "
            "[migratetype=NAME] [order=N] [after=ID] [limit=N])");
  EXPECT_EQ(parse_command("alloc order=0 gfp=GFP_KERNEL node=1024").error().message,
            "alloc: node=1024: must be in 0..1023 (usage: alloc order=N gfp=FLAGS [node=N] "
            "[cpu=N] [count=N])");
  EXPECT_EQ(parse_command(std::string(kMaxCommandBytes + 1, 'a')).error().message,
            "command longer than 65536 bytes");
}

TEST(Grammar, MemoryNamesAStepAndABlock) {
  const std::string offline_usage = " (usage: memory offline block=N)";
  const std::string online_usage = " (usage: memory online block=N [zone=kernel|movable])";
  EXPECT_EQ(parse_command("memory").error().message,
            "memory: say offline or online (usage: memory offline block=N | online block=N "
            "[zone=kernel|movable])");
  EXPECT_EQ(parse_command("memory offline").error().message,
            "memory: missing block=" + offline_usage);
  EXPECT_EQ(parse_command("memory offline block=14 zone=movable").error().message,
            "memory: unknown key 'zone'" + offline_usage);
  EXPECT_EQ(parse_command("memory online block=14 zone=normal").error().message,
            "memory: zone=normal: kernel or movable" + online_usage);
  EXPECT_EQ(parse_command("memory online block=33554432").error().message,
            "memory: block=33554432: must be in 0..33554431" + online_usage);
  EXPECT_EQ(parse_command("memory remove block=1").error().message,
            "memory: unknown step 'remove' (usage: memory offline block=N | online block=N "
            "[zone=kernel|movable])");
  const MemoryCommand online{MemoryCommand::Op::kOnline, MemoryCommand::Zone::kKernel, 3};
  EXPECT_EQ(parse_ok("memory online block=3 zone=kernel"), Command{online});
}

TEST(Grammar, TraceTakesEventListsAndChecksTheRest) {
  // Lists may be split by commas or blanks and name the kernel's system.
  EXPECT_EQ(format_ok(parse_ok("trace on mm_page_alloc, kmem:mm_page_free")),
            "trace on mm_page_alloc,kmem:mm_page_free");
  EXPECT_EQ(format_ok(parse_ok("trace buffer_size_kb=0x10")), "trace buffer_size_kb=16");
  EXPECT_EQ(parse_command("trace on").error().message,
            "trace: name the events to turn on (mm_page_alloc,mm_page_free,... or all) (usage: "
            "trace | trace on EVENT[,EVENT...] | off [EVENT...] | buffer_size_kb=N | clear)");
  EXPECT_EQ(parse_command("trace on mm_page_alloc;reboot").error().message,
            "trace: bad event name 'mm_page_alloc;reboot' (usage: trace | trace on "
            "EVENT[,EVENT...] | off [EVENT...] | buffer_size_kb=N | clear)");
  EXPECT_FALSE(parse_command("trace frob").ok());
  EXPECT_FALSE(parse_command("trace clear now").ok());
  EXPECT_FALSE(parse_command("trace size=4").ok());
  EXPECT_FALSE(parse_command("trace buffer_size_kb=x").ok());
  EXPECT_FALSE(parse_command("trace buffer_size_kb=1 clear").ok());
  EXPECT_FALSE(parse_command("trace on mm_page_alloc order=1").ok());
  // Whether a name is an event is the daemon's to say: the grammar takes any.
  EXPECT_TRUE(parse_command("trace on no_such_event").ok());
}

TEST(Grammar, ReplayBeginTakesEveryAndContinue) {
  auto c = std::get<ReplayCommand>(parse_ok("replay begin continue every=0x10"));
  EXPECT_EQ(c.op, ReplayCommand::Op::kBegin);
  EXPECT_EQ(c.every, 16u);
  EXPECT_TRUE(c.continue_previous);
  c = std::get<ReplayCommand>(parse_ok("replay begin"));
  EXPECT_EQ(c.every, 0u);
  EXPECT_FALSE(c.continue_previous);
  const std::string usage = " (usage: replay begin [every=N] [continue])";
  EXPECT_EQ(parse_command("replay begin every=0").error().message,
            "replay: every=0: must be in 1..281474976710656" + usage);
  EXPECT_EQ(parse_command("replay begin every=x").error().message,
            "replay: every=x: not a number" + usage);
  EXPECT_EQ(parse_command("replay begin every=1 every=2").error().message,
            "replay: 'every' given twice" + usage);
  EXPECT_EQ(parse_command("replay begin again").error().message,
            "replay: 'again' is not key=value" + usage);
  EXPECT_EQ(parse_command("replay begin continue continue").error().message,
            "replay: 'continue' given twice" + usage);
  EXPECT_EQ(parse_command("replay begin bytes=3").error().message,
            "replay: unknown key 'bytes'" + usage);
  EXPECT_FALSE(parse_command("replay end continue").ok());
  EXPECT_FALSE(parse_command("replay file=/t continue").ok());
}

TEST(Grammar, LinesThatAnnounceRawBytes) {
  EXPECT_TRUE(announces_raw_bytes("replay data bytes=10\n"));
  EXPECT_TRUE(announces_raw_bytes("replay data bytes=x"));
  EXPECT_TRUE(announces_raw_bytes("snapshot load bytes=10"));
  EXPECT_TRUE(announces_raw_bytes("snapshot load \"unterminated"));
  EXPECT_FALSE(announces_raw_bytes("replay begin"));
  EXPECT_FALSE(announces_raw_bytes("snapshot save"));
  EXPECT_FALSE(announces_raw_bytes("replay"));
}

TEST(Help, NamesEveryVerb) {
  for (const char* verb : {"alloc", "free", "allocations", "sysctl", "show", "replay", "snapshot",
                           "reset", "check", "status", "trace"}) {
    EXPECT_NE(command_help().find(std::string("\n  ") + verb), std::string_view::npos) << verb;
  }
}

}  // namespace
}  // namespace memd::protocol
