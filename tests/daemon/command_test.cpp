// The command language's parser: good commands, and every kind of bad input
// with an error that names the key or value.
#include <gtest/gtest.h>

#include "daemon/command.h"

namespace memd {
namespace {

template <typename T>
T parse_ok(std::string_view line) {
  auto r = parse_command(line);
  EXPECT_TRUE(r.ok()) << line << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*r)) << line;
  return std::holds_alternative<T>(*r) ? std::get<T>(*r) : T{};
}

std::string parse_error(std::string_view line) {
  auto r = parse_command(line);
  EXPECT_FALSE(r.ok()) << line;
  return r.ok() ? "" : r.error().message;
}

TEST(Command, AllocWithKernelFlags) {
  auto c = parse_ok<AllocCommand>("alloc order=3 gfp=GFP_HIGHUSER_MOVABLE\n");
  EXPECT_EQ(c.order, 3u);
  EXPECT_EQ(*gfp_of(c), gfp::kHighuserMovable);
  EXPECT_FALSE(c.node);
  EXPECT_EQ(c.cpu_or_default(), 0);
  EXPECT_EQ(c.count_or_default(), 1u);
}

TEST(Command, AllocAllKeys) {
  auto c = parse_ok<AllocCommand>(
      "alloc  order=0\tgfp=GFP_KERNEL|__GFP_ZERO node=1 cpu=3 count=0x10\r\n");
  EXPECT_EQ(*gfp_of(c), gfp::kKernel | gfp::kZero);
  EXPECT_EQ(c.node, 1);
  EXPECT_EQ(c.cpu_or_default(), 3);
  EXPECT_EQ(c.count_or_default(), 16u);
}

TEST(Command, AllocHexMask) {
  EXPECT_EQ(*gfp_of(parse_ok<AllocCommand>("alloc order=0 gfp=0xcc0")), gfp::kKernel);
}

TEST(Command, AllocErrorsNameTheKey) {
  EXPECT_NE(parse_error("alloc gfp=GFP_KERNEL").find("missing order="), std::string::npos);
  EXPECT_NE(parse_error("alloc order=1").find("missing gfp="), std::string::npos);
  EXPECT_NE(parse_error("alloc order=x gfp=GFP_KERNEL").find("order=x: not a number"),
            std::string::npos);
  EXPECT_NE(parse_error("alloc order=11 gfp=GFP_KERNEL").find("order=11: must be in 0..10"),
            std::string::npos);
  EXPECT_NE(parse_error("alloc order=-1 gfp=GFP_KERNEL").find("order=-1"), std::string::npos);
  EXPECT_NE(parse_error("alloc order=1 gfp=GFP_BOGUS").find("gfp=GFP_BOGUS"), std::string::npos);
  EXPECT_NE(parse_error("alloc order=1 gfp=GFP_KERNEL colour=red").find("unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(parse_error("alloc order=1 order=2 gfp=GFP_KERNEL").find("'order' given twice"),
            std::string::npos);
  EXPECT_NE(parse_error("alloc order=1 gfp=GFP_KERNEL count=0").find("count=0"), std::string::npos);
  EXPECT_NE(parse_error("alloc order=1 gfp=GFP_KERNEL count=100001").find("count=100001"),
            std::string::npos);
  EXPECT_NE(parse_error("alloc order=1 gfp=GFP_KERNEL 7").find("'7' is not key=value"),
            std::string::npos);
  EXPECT_NE(parse_error("alloc order=99999999999999999999 gfp=GFP_KERNEL").find("not a number"),
            std::string::npos);
  EXPECT_NE(parse_error("alloc order=1 gfp=GFP_KERNEL cpu=0x").find("cpu=0x"), std::string::npos);
}

// A bad gfp= fails in the grammar's words even for a Command not parsed from
// a line (the daemon reads the flags when it runs the command).
TEST(Command, GfpOfABuiltCommand) {
  AllocCommand c;
  c.gfp = "GFP_BOGUS";
  auto flags = gfp_of(c);
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.error().message, parse_error("alloc order=0 gfp=GFP_BOGUS"));
}

// The protocol's list of files is the core's, in ProcFile's order.
TEST(Command, FileNamesAreTheCoresProcFiles) {
  for (ProcFile f : kProcFiles) {
    EXPECT_EQ(proc_file_named(proc_file_name(f)), f) << proc_file_name(f);
  }
  EXPECT_FALSE(proc_file_named("cpuinfo"));
}

TEST(Command, FreeForms) {
  auto c = parse_ok<FreeCommand>("free pfn=0x1f400 id=7 pfn=12 cpu=1");
  ASSERT_EQ(c.targets.size(), 3u);
  EXPECT_EQ(c.targets[0], (FreeTarget{FreeTarget::Kind::kPfn, 0x1f400}));
  EXPECT_EQ(c.targets[1], (FreeTarget{FreeTarget::Kind::kId, 7}));
  EXPECT_EQ(c.targets[2], (FreeTarget{FreeTarget::Kind::kPfn, 12}));
  EXPECT_EQ(c.cpu_or_default(), 1);
  EXPECT_FALSE(c.all);
  auto all = parse_ok<FreeCommand>("free all cpu=1");
  EXPECT_TRUE(all.all);
  EXPECT_EQ(all.cpu_or_default(), 1);
}

TEST(Command, FreeErrors) {
  EXPECT_NE(parse_error("free").find("nothing to free"), std::string::npos);
  EXPECT_NE(parse_error("free all pfn=1").find("'all' cannot be combined"), std::string::npos);
  EXPECT_NE(parse_error("free all all").find("'all' given twice"), std::string::npos);
  EXPECT_NE(parse_error("free pfn=1 pfn=0x1").find("pfn=0x1 given twice"), std::string::npos);
  EXPECT_NE(parse_error("free pfn=zz").find("pfn=zz: not a number"), std::string::npos);
  EXPECT_NE(parse_error("free pfn=1 cpu=1 cpu=2").find("'cpu' given twice"), std::string::npos);
  EXPECT_NE(parse_error("free everything").find("'everything' is not key=value"),
            std::string::npos);
}

TEST(Command, Sysctl) {
  EXPECT_EQ(parse_ok<SysctlCommand>("sysctl").name, "");
  auto get = parse_ok<SysctlCommand>("sysctl vm.min_free_kbytes");
  EXPECT_EQ(get.name, "min_free_kbytes");
  EXPECT_FALSE(get.value);
  // The value as written: the machine's parser (the kernel's proc_dointvec
  // rules) refuses the commas, as on the command line.
  auto set = parse_ok<SysctlCommand>("sysctl lowmem_reserve_ratio=256,256,32,0,0");
  EXPECT_EQ(set.name, "lowmem_reserve_ratio");
  EXPECT_EQ(set.value, "256,256,32,0,0");
  auto quoted = parse_ok<SysctlCommand>("sysctl lowmem_reserve_ratio=\"256 256 32\"");
  EXPECT_EQ(quoted.value, "256 256 32");
  EXPECT_NE(parse_error("sysctl a=1 b=2").find("one sysctl at a time"), std::string::npos);
}

TEST(Command, ShowReplayAndBareVerbs) {
  EXPECT_EQ(parse_ok<ShowCommand>("show buddyinfo").file, "buddyinfo");
  EXPECT_EQ(parse_ok<ShowCommand>("show file=zoneinfo").file, "zoneinfo");
  EXPECT_NE(parse_error("show").find("name one file"), std::string::npos);
  auto file = parse_ok<ReplayCommand>("replay file=\"/tmp/my trace.gz\"");
  EXPECT_EQ(file.op, ReplayCommand::Op::kFile);
  EXPECT_EQ(file.path, "/tmp/my trace.gz");
  EXPECT_EQ(parse_ok<ReplayCommand>("replay begin").op, ReplayCommand::Op::kBegin);
  auto data = parse_ok<ReplayCommand>("replay data bytes=4096");
  EXPECT_EQ(data.op, ReplayCommand::Op::kData);
  EXPECT_EQ(data.bytes, 4096u);
  EXPECT_EQ(parse_ok<ReplayCommand>("replay end").op, ReplayCommand::Op::kEnd);
  EXPECT_EQ(parse_ok<ReplayCommand>("replay abort").op, ReplayCommand::Op::kAbort);
  EXPECT_NE(parse_error("replay data").find("missing bytes="), std::string::npos);
  EXPECT_NE(parse_error("replay data bytes=99999999999").find("bytes=99999999999"),
            std::string::npos);
  EXPECT_NE(parse_error("replay rewind").find("unknown step 'rewind'"), std::string::npos);
  EXPECT_NE(parse_error("replay file=").find("needs an absolute path"), std::string::npos);
  EXPECT_NE(parse_error("replay file=trace.gz").find("needs an absolute path"), std::string::npos);
  parse_ok<ResetCommand>("reset");
  parse_ok<CheckCommand>("check");
  parse_ok<StatusCommand>("status\n");
  parse_ok<HelpCommand>("help");
  EXPECT_NE(parse_error("reset now").find("takes no arguments"), std::string::npos);
}

TEST(Command, Malformed) {
  EXPECT_NE(parse_error("").find("empty command"), std::string::npos);
  EXPECT_NE(parse_error("   \n").find("empty command"), std::string::npos);
  EXPECT_NE(parse_error("frobnicate x=1").find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_NE(parse_error("order=1").find("unknown command 'order=1'"), std::string::npos);
  EXPECT_NE(parse_error("alloc order=1\ngfp=GFP_KERNEL").find("one command per line"),
            std::string::npos);
  EXPECT_NE(parse_error(std::string_view("alloc\0order=1", 13)).find("NUL byte"),
            std::string::npos);
  EXPECT_NE(parse_error("show \"buddyinfo").find("unterminated quote"), std::string::npos);
  EXPECT_NE(parse_error("alloc =3").find("has no key"), std::string::npos);
  EXPECT_NE(parse_error(std::string(kMaxCommandBytes + 1, 'a')).find("longer than"),
            std::string::npos);
  EXPECT_FALSE(parse_command("\xff\xfe garbage \x01").ok());
}

}  // namespace
}  // namespace memd
