// The configuration loader: the keys of product.md, sizes and addresses,
// and errors that name the file, line, key and reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "core/machine.h"
#include "core/machine_files.h"
#include "daemon/config.h"
#include "daemon/options.h"

namespace memd {
namespace {

Config parse_ok(std::string_view text) {
  auto r = parse_config(text, "test.toml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Config{};
}

std::string parse_error(std::string_view text) {
  auto r = parse_config(text, "test.toml");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error().message;
}

TEST(Config, EmptyFileGivesDefaults) {
  Config c = parse_ok("");
  EXPECT_EQ(c.machine.arch, Arch::kX86_64);
  EXPECT_FALSE(c.machine.size);
  EXPECT_EQ(c.machine.cpus, 2);
  EXPECT_TRUE(c.machine.nodes.empty());
  EXPECT_TRUE(c.daemon.allow_other);  // as /proc: the kernel checks each file's mode
  EXPECT_FALSE(c.daemon.nonempty);
  EXPECT_FALSE(c.daemon.mount.empty());
  EXPECT_FALSE(c.daemon.socket.empty());
  if (geteuid() == 0) {
    EXPECT_EQ(c.daemon.mount, "/run/memd/proc");
    EXPECT_EQ(c.daemon.socket, "/run/memd/memd.sock");
  }
}

TEST(Config, TheProductExample) {
  Config c = parse_ok(R"(
[machine]
arch = "x86_64"
size = "4G"
e820 = """
BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
BIOS-e820: [mem 0x0000000000100000-0x000000007ffdffff] usable
"""
cmdline = "kernelcore=1G sysctl.vm.watermark_scale_factor=100"
cpus = 2
thp = true

[[machine.node]]
start = "0x0"
end = "0x80000000"
cpus = [0, 1]
distance = [10, 20]

[[machine.node]]
size = "2G"

[[machine.reserved]]
start = "0x0"
end = "0x100000"

[[machine.mirrored]]
start = 0
end = "1G"

[daemon]
mount = "/run/memd/proc"
socket = "/run/memd/memd.sock"
socket_group = "memd"
state_dir = "/var/lib/memd"
allow_other = true
fuse_threads = 4
)");
  EXPECT_EQ(c.machine.size, 4ULL << 30);
  ASSERT_TRUE(c.machine.e820);
  EXPECT_NE(c.machine.e820->find("0x000000007ffdffff"), std::string::npos);
  EXPECT_EQ(c.machine.cmdline, "kernelcore=1G sysctl.vm.watermark_scale_factor=100");
  EXPECT_TRUE(c.machine.thp);
  ASSERT_EQ(c.machine.nodes.size(), 2u);
  EXPECT_EQ(c.machine.nodes[0].range, (PhysRange{0, 0x80000000}));
  EXPECT_EQ(c.machine.nodes[0].cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.machine.nodes[0].distance, (std::vector<int>{10, 20}));
  EXPECT_EQ(c.machine.nodes[1].size, 2ULL << 30);
  ASSERT_EQ(c.machine.reserved.size(), 1u);
  EXPECT_EQ(c.machine.reserved[0], (PhysRange{0, 0x100000}));
  ASSERT_EQ(c.machine.mirrored.size(), 1u);
  EXPECT_EQ(c.machine.mirrored[0], (PhysRange{0, 1ULL << 30}));
  EXPECT_EQ(c.daemon.socket_group, "memd");
  EXPECT_EQ(c.daemon.state_dir, "/var/lib/memd");
  EXPECT_TRUE(c.daemon.allow_other);
  EXPECT_EQ(c.daemon.fuse_threads, 4);
}

TEST(Config, I386) {
  EXPECT_EQ(parse_ok("[machine]\narch = \"i386\"\n").machine.arch, Arch::kI386);
}

TEST(Config, ErrorsNameFileLineKeyAndReason) {
  EXPECT_EQ(parse_error("[machine]\nsize = \"4Q\"\n"),
            "test.toml:2:8: machine.size: '4Q' is not a size or address (like \"4G\", \"512M\" or "
            "\"0x80000000\")");
  EXPECT_EQ(parse_error("[machine]\n\nsizee = \"4G\"\n").substr(0, 30),
            "test.toml:3:1: machine.sizee: ");
  EXPECT_NE(parse_error("[machine]\nsizee = 1\n").find("unknown key"), std::string::npos);
  EXPECT_NE(parse_error("[daemon]\nmount = \"relative/path\"\n")
                .find("daemon.mount: must be an absolute path"),
            std::string::npos);
  EXPECT_NE(parse_error("[machine]\ncpus = \"two\"\n")
                .find("test.toml:2:8: machine.cpus: must be an integer"),
            std::string::npos);
  EXPECT_NE(parse_error("[machine]\ncpus = 0\n").find("0 is not in 1..8192"), std::string::npos);
  EXPECT_NE(parse_error("[machine]\narch = \"arm64\"\n").find("machine.arch: 'arm64'"),
            std::string::npos);
  EXPECT_NE(parse_error("[machine]\nthp = 1\n").find("machine.thp: must be true or false"),
            std::string::npos);
  EXPECT_NE(
      parse_error("[[machine.node]]\nsize = \"1G\"\nstart = 0\nend = \"1G\"\n").find("not both"),
      std::string::npos);
  EXPECT_NE(parse_error("[[machine.node]]\ndistance = [10]\n").find("needs size, or start and end"),
            std::string::npos);
  EXPECT_NE(
      parse_error("[[machine.node]]\nsize = \"1G\"\ncpus = [\"a\"]\n").find("machine.node.cpus"),
      std::string::npos);
  EXPECT_NE(parse_error("[[machine.reserved]]\nstart = \"2M\"\nend = \"1M\"\n")
                .find("must be above start"),
            std::string::npos);
  EXPECT_NE(parse_error("[[machine.reserved]]\nstart = 0\n").find("needs both start and end"),
            std::string::npos);
  EXPECT_NE(
      parse_error("[machine]\ncmdline = \"kernelcore=lots\"\n").find("machine.cmdline: kernelcore"),
      std::string::npos);
  EXPECT_NE(parse_error("[machine]\ne820 = \"nonsense\"\n").find("machine.e820: e820 line 1"),
            std::string::npos);
  EXPECT_NE(parse_error("[mashine]\n").find("test.toml:1:2: mashine: unknown key"),
            std::string::npos);
  EXPECT_NE(parse_error("machine = 3\n").find("machine: must be a table"), std::string::npos);
  EXPECT_NE(parse_error("[machine]\nnode = 3\n").find("machine.node: must be an array of tables"),
            std::string::npos);
}

// A memoryless node: size = 0, or no size, start or end, with its CPUs
// (the node that real machines and `numa=fake` captures show with a cpulist
// and no memory).
TEST(Config, MemorylessNodes) {
  Config c = parse_ok(
      "[[machine.node]]\nsize = \"32M\"\ncpus = [0]\n"
      "[[machine.node]]\ncpus = [1]\n"
      "[[machine.node]]\nsize = 0\ncpus = [2]\n");
  ASSERT_EQ(c.machine.nodes.size(), 3u);
  EXPECT_EQ(c.machine.nodes[1].size, 0u);
  EXPECT_FALSE(c.machine.nodes[1].range);
  EXPECT_EQ(c.machine.nodes[2].size, 0u);
  EXPECT_EQ(parse_error("[[machine.node]]\nsize = \"32M\"\n[[machine.node]]\n"),
            "test.toml:3:1: machine.node: needs size, or start and end (a node without memory "
            "gives size = 0, or leaves them out, and lists its cpus)");
}

// Distances are SLIT bytes: 0..255 parse (slit_valid() judges them at boot),
// anything else is refused here.
TEST(Config, DistancesAreBytes) {
  Config c = parse_ok("[[machine.node]]\nsize = \"1G\"\ndistance = [0, 255]\n");
  EXPECT_EQ(c.machine.nodes[0].distance, (std::vector<int>{0, 255}));
  EXPECT_EQ(parse_error("[[machine.node]]\nsize = \"1G\"\ndistance = [10, 256]\n"),
            "test.toml:3:17: machine.node.distance: 256 is not in 0..255");
}

// A CPU in two nodes' lists, as a numa=fake=2 kernel shows it, parses.
TEST(Config, CpuInSeveralNodes) {
  Config c = parse_ok(
      "[[machine.node]]\nsize = \"1G\"\ncpus = [0, 1]\n"
      "[[machine.node]]\nsize = \"1G\"\ncpus = [0, 1]\n");
  EXPECT_EQ(c.machine.nodes[1].cpus, (std::vector<int>{0, 1}));
}

// What a numa=fake=2 kernel on 2 CPUs and 64 MiB shows (both cpulists
// 0-1), pasted, plus a third node with CPU 2 and no memory: the file boots.
// CPUs 0 and 1 are at home on node 0; node 2's zonelist starts at node 0
// (distance 20, n < 2 and CPUs cost 1 each for both, node_load is 1 for
// both after nodes 0 and 1 built theirs: a tie, and the first one wins).
TEST(Config, NumaFakeCpulistsAndAMemorylessNodeBoot) {
  Config c = parse_ok(
      "[machine]\nsize = \"64M\"\n"
      "[[machine.node]]\nsize = \"32M\"\ncpus = [0, 1]\n"
      "[[machine.node]]\nsize = \"32M\"\ncpus = [0, 1]\n"
      "[[machine.node]]\ncpus = [2]\n");
  auto m = Machine::boot(c.machine);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->layout().cpu_node, (std::vector<int>{0, 0, 2}));
  const std::string log = (*m)->kernel_log().dmesg();
  EXPECT_NE(log.find("] Initmem setup node 2 as memoryless\n"), std::string::npos) << log;
  EXPECT_NE(log.find("] Fallback order for Node 2: 0 1 \n"), std::string::npos) << log;
}

// A node left with neither memory nor CPUs (one CPU, dealt round-robin to
// node 0) is refused at boot, naming it.
TEST(Config, NodeWithoutMemoryOrCpusIsRefusedAtBoot) {
  Config c = parse_ok(
      "[machine]\ncpus = 1\n[[machine.node]]\nsize = \"64M\"\n[[machine.node]]\nsize = 0\n");
  auto m = Machine::boot(c.machine);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message,
            "machine.node[1]: has neither memory nor CPUs; give it a size (or a start and end "
            "with usable memory) or cpus");
}

TEST(Config, SyntaxErrorsHaveAPosition) {
  std::string e = parse_error("[machine]\nsize = \n");
  EXPECT_EQ(e.substr(0, 12), "test.toml:2:") << e;
  e = parse_error("[machine\n");
  EXPECT_EQ(e.substr(0, 12), "test.toml:1:") << e;
}

TEST(Config, FileNotFound) {
  auto r = load_config_file("/nonexistent/memd.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/memd.toml: cannot read"), std::string::npos);
}

TEST(Options, FlagsOverrideTheFile) {
  char path[] = "/tmp/memd-options-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path)
      << "[machine]\nsize = \"2G\"\ne820 = \"BIOS-e820: [mem 0x0-0x9fbff] usable\"\n"
         "cpus = 4\n[daemon]\nmount = \"/tmp/a\"\n";
  const char* argv[] = {
      "memd",      "--config",        path,      "--size", "1G",           "--cpus", "3",
      "--cmdline", "movablecore=10%", "--mount", "/tmp/b", "--allow-other"};
  auto parsed = parse_options(12, argv);
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  auto c = resolve_config(std::get<Options>(parsed));
  unlink(path);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->machine.size, 1ULL << 30);
  EXPECT_FALSE(c->machine.e820);
  EXPECT_EQ(c->machine.cpus, 3);
  EXPECT_EQ(c->machine.cmdline, "movablecore=10%");
  EXPECT_EQ(c->daemon.mount, "/tmp/b");
  EXPECT_TRUE(c->daemon.allow_other);
}

// The smallest machine memd boots is 1156 KiB (bisected with --size and
// --print buddyinfo: 1183744 bytes boot with one free page, 1183743 do not):
// qemu's pc map leaves [1 MiB, size - 128 KiB) usable above the first MiB,
// which the kernel reserves whole, so size - 128 KiB must reach 1 MiB + 4 KiB.
TEST(Config, TooSmallAMachineNamesTheSmallest) {
  const std::string why =
      "the smallest machine memd can boot is 1156 KiB (1 MiB + 132 KiB: the kernel reserves the "
      "first MiB, qemu's pc machine the 128 KiB below the top of low memory, and the page "
      "allocator needs a page)";
  EXPECT_EQ(parse_error("[machine]\nsize = \"1M\"\n"),
            "test.toml:2:8: machine.size: \"1M\": " + why);
  EXPECT_EQ(parse_error("[machine]\nsize = 1183743\n"),
            "test.toml:2:8: machine.size: 1183743: " + why);
  EXPECT_EQ(parse_ok("[machine]\nsize = 1183744\n").machine.size, 1183744u);
  EXPECT_EQ(parse_ok("[machine]\nsize = \"1156K\"\n").machine.size, 1183744u);
  const char* small[] = {"memd", "--size", "1M"};
  auto parsed = parse_options(3, small);
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  auto c = resolve_config(std::get<Options>(parsed));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "--size 1M: " + why);
  const char* smallest[] = {"memd", "--size", "1156K"};
  auto d = resolve_config(std::get<Options>(parse_options(3, smallest)));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->machine.size, 1183744u);
}

// machine.gbpages: the CPU's 1 GiB pages (default true).
TEST(Config, Gbpages) {
  EXPECT_TRUE(parse_ok("").machine.gbpages);
  EXPECT_FALSE(parse_ok("[machine]\ngbpages = false\n").machine.gbpages);
  EXPECT_EQ(parse_error("[machine]\ngbpages = \"no\"\n"),
            "test.toml:2:11: machine.gbpages: must be true or false");
}

// The config file's allow_other stands unless a flag overrides it (CLI11 2.1
// used to turn an unset optional flag into false); so does nonempty.
TEST(Options, AllowOtherAndNonemptyFromTheFileUnlessOverridden) {
  char path[] = "/tmp/memd-options-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "[daemon]\nallow_other = false\nnonempty = true\n";
  const char* plain[] = {"memd", "--config", path};
  auto c = resolve_config(std::get<Options>(parse_options(3, plain)));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->daemon.allow_other);
  EXPECT_TRUE(c->daemon.nonempty);
  const char* on[] = {"memd", "--config", path, "--allow-other"};
  auto d = resolve_config(std::get<Options>(parse_options(4, on)));
  unlink(path);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->daemon.allow_other);
  const char* flag[] = {"memd", "--nonempty"};
  auto e = resolve_config(std::get<Options>(parse_options(2, flag)));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_TRUE(e->daemon.nonempty);
}

TEST(Options, UsageErrors) {
  const char* bad_print[] = {"memd", "--print", "nosuchfile"};
  auto r = parse_options(3, bad_print);
  ASSERT_TRUE(std::holds_alternative<int>(r));
  EXPECT_EQ(std::get<int>(r), 2);
  const char* unknown[] = {"memd", "--frobnicate"};
  EXPECT_EQ(std::get<int>(parse_options(2, unknown)), 2);
  const char* help[] = {"memd", "--help"};
  EXPECT_EQ(std::get<int>(parse_options(2, help)), 0);
  const char* size[] = {"memd", "--size", "lots"};
  auto o = parse_options(3, size);
  ASSERT_TRUE(std::holds_alternative<Options>(o));
  auto c = resolve_config(std::get<Options>(o));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("--size: 'lots'"), std::string::npos);
}

}  // namespace
}  // namespace memd
