// The boot log (core/boot_log.h and the zonelist lines of machine_boot.cpp)
// against the real kernels of ../shared/reference/kernel-6.1/: for every
// capture, the lines memd prints equal the kernel's own lines of the same
// kinds in its `dmesg`, after the timestamps (memd's are all 0.000000).
//
// The captures are 6.1 kernels; where 6.18 prints differently the test turns
// the capture into 6.18's text and names the difference:
//  D1 start_kernel() prints "Kernel command line:" and the unknown parameters
//     before mm_core_init() builds the zonelists in 6.18; 6.1 built them first
//     and listed unknown parameters after "Memory:". The capture's two lines
//     move to just before its first zonelist line.
//  D2 "Total pages:" in 6.18 is nr_free_zone_pages() while managed still
//     equals present (zone_init_internals()) and the watermarks are 0: the
//     sum of present pages. 6.1 printed present minus the memmap's pages. The
//     capture's number is replaced by the sum of the present pages in its own
//     zoneinfo.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/boot_log.h"
#include "core/e820.h"
#include "core/kernel_log.h"
#include "core/machine.h"
#include "core/machine_files.h"
#include "tests/core/kernel61.h"
#include "tests/core/machines.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

// A dmesg line without its "[    0.008847] " timestamp.
std::string without_timestamp(const std::string& line) {
  if (line.empty() || line[0] != '[') return line;
  size_t close = line.find("] ");
  return close == std::string::npos ? line : line.substr(close + 2);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The kinds of line memd's boot log has.
bool is_memd_kind(const std::string& line) {
  static const std::vector<std::string> prefixes = {"Command line: ",
                                                    "BIOS-provided physical RAM map:",
                                                    "BIOS-e820: ",
                                                    "e820: update ",
                                                    "e820: remove ",
                                                    "last_pfn = ",
                                                    "Zone ranges:",
                                                    "  DMA ",
                                                    "  DMA32 ",
                                                    "  Normal ",
                                                    "  Device ",
                                                    "  HighMem ",
                                                    "Movable zone start",
                                                    "  Node ",
                                                    "Early memory node",
                                                    "  node ",
                                                    "Initmem setup node",
                                                    "On node ",
                                                    "Kernel command line: ",
                                                    "Unknown kernel command line parameters",
                                                    "Fallback order for Node ",
                                                    "Built ",
                                                    "Policy zone: "};
  for (const std::string& p : prefixes) {
    if (starts_with(line, p)) return true;
  }
  return false;
}

// The capture's lines of memd's kinds, in 6.18's order and numbers (D1, D2).
std::vector<std::string> expected_618(const std::string& dir) {
  std::vector<std::string> lines, moved;
  for (const std::string& raw :
       test::split_lines(test::read_file(test::capture_file(dir, "dmesg")))) {
    std::string line = without_timestamp(raw);
    if (!is_memd_kind(line)) continue;
    if (starts_with(line, "Kernel command line: ") ||
        starts_with(line, "Unknown kernel command line parameters")) {
      moved.push_back(line);  // D1
      continue;
    }
    if (starts_with(line, "Built ")) {  // D2
      uint64_t present = 0;
      for (const test::RefZone& z :
           test::parse_zoneinfo(test::read_file(test::capture_file(dir, "zoneinfo")))) {
        present += z.present;
      }
      line = line.substr(0, line.find("Total pages: ")) + "Total pages: " + std::to_string(present);
    }
    lines.push_back(line);
  }
  auto first_zonelist = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return starts_with(l, "Fallback order for Node ") || starts_with(l, "Built ");
  });
  lines.insert(first_zonelist, moved.begin(), moved.end());
  return lines;
}

std::vector<std::string> memd_lines(const Machine& m) {
  std::vector<std::string> out;
  for (const std::string& l : test::split_lines(m.kernel_log().dmesg())) {
    EXPECT_TRUE(starts_with(l, "[    0.000000] ")) << l;
    out.push_back(without_timestamp(l));
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines)
    s += l + "\n";
  return s;
}

class BootLogKernel61 : public ::testing::TestWithParam<std::string> {};

TEST_P(BootLogKernel61, EqualsTheKernelsLines) {
  const std::string dir = GetParam();
  MEMD_BOOT(m, test::kernel61_config(dir));
  std::vector<std::string> expected = expected_618(dir);
  ASSERT_GT(expected.size(), 20u) << dir;
  EXPECT_EQ(joined(memd_lines(m)), joined(expected)) << dir;
}

INSTANTIATE_TEST_SUITE_P(Captures, BootLogKernel61, ::testing::ValuesIn(test::kernel61_dirs()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The memory-block captures (tests/reference/kernel-6.1/hp*): the machines
// tests/core/memory_block_test.cpp compares memory/ on boot as the kernel did.
INSTANTIATE_TEST_SUITE_P(BlockCaptures, BootLogKernel61,
                         ::testing::Values("hp1-2G-movablecore512M", "hp2-4G-kernelcore1G",
                                           "hp3-4G-2nodes", "hp4-67G-1node-blocks",
                                           "hp5-66G-1node-blocks", "hp6-67G-2nodes-blocks"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The 4-node capture's distance table gives every node its own order, and
// round-robin penalties (node_load) break the ties.
TEST(BootLog, FallbackOrderOfTheFourNodeCaptureWithDistances) {
  MEMD_BOOT(m, test::kernel61_config("c-8G-4nodes-dist"));
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("] Fallback order for Node 0: 0 1 2 3 \n"
                     "[    0.000000] Fallback order for Node 1: 1 2 0 3 \n"
                     "[    0.000000] Fallback order for Node 2: 2 3 1 0 \n"
                     "[    0.000000] Fallback order for Node 3: 3 2 1 0 \n"
                     "[    0.000000] Built 4 zonelists, mobility grouping on.  Total pages: "),
            std::string::npos)
      << log;
}

// Four nodes at equal distance (the book's Figure 3-9): after the local node
// the next higher one comes first (n < local costs 1), and the others follow
// in the order node_load leaves them: node 2 falls back to 3, 0, 1, as the
// real kernel of the j-4G-4nodes-equal capture prints (BootLogKernel61 checks
// all four of its lines: 0 1 2 3 / 1 2 3 0 / 2 3 0 1 / 3 0 1 2).
TEST(BootLog, FallbackOrderOfFourNodesAtEqualDistance) {
  MEMD_BOOT(m, test::machines::four_nodes_16m({}));
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("Fallback order for Node 2: 2 3 0 1 \n"), std::string::npos) << log;
  EXPECT_EQ(render_zonelists(m),
            "Node 0 fallback: DMA/0 DMA32/1 DMA32/2 DMA32/3\n"
            "Node 0 nofallback: DMA/0\n"
            "Node 1 fallback: DMA32/1 DMA32/2 DMA32/3 DMA/0\n"
            "Node 1 nofallback: DMA32/1\n"
            "Node 2 fallback: DMA32/2 DMA32/3 DMA/0 DMA32/1\n"
            "Node 2 nofallback: DMA32/2\n"
            "Node 3 fallback: DMA32/3 DMA/0 DMA32/1 DMA32/2\n"
            "Node 3 nofallback: DMA32/3\n");
}

// g (kernelcore=2G over 2 nodes): ZONE_MOVABLE starts at 4 GiB on node 0
// and covers all of node 1, so no node has a Normal zone; each node lists its
// own zones highest first.
TEST(BootLog, ZonelistsOfTheMovableNodeCapture) {
  MEMD_BOOT(m, test::kernel61_config("g-8G-2nodes-kernelcore2G"));
  EXPECT_EQ(render_zonelists(m),
            "Node 0 fallback: Movable/0 DMA32/0 DMA/0 Movable/1\n"
            "Node 0 nofallback: Movable/0 DMA32/0 DMA/0\n"
            "Node 1 fallback: Movable/1 Movable/0 DMA32/0 DMA/0\n"
            "Node 1 nofallback: Movable/1\n");
}

// (The k-2G-unknown-params capture shows a real kernel doing the same with
// "foo=1 bar quiet foo=2 x.y=3 log-buf-len=1M baz=qux".)
TEST(BootLog, UnknownParametersAsTheKernelHandsThemToInit) {
  MachineConfig cfg = test::machines::pc_64m();
  // Known: console= (__setup), quiet (early_param), a module's x.y=, the
  // bootloader's BOOT_IMAGE=; after "--" everything is init's. Without a
  // value to argv, with one to envp, where a later foo= replaces foo=1.
  cfg.cmdline = "BOOT_IMAGE=/vmlinuz console=ttyS0 nokaslr foo=1 quiet x.y=3 bar foo=2 -- baz";
  MEMD_BOOT(m, cfg);
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("] Kernel command line: " + cfg.cmdline +
                     "\n[    0.000000] Unknown kernel "
                     "command line parameters \"nokaslr bar foo=2\", will be passed to user "
                     "space.\n"),
            std::string::npos)
      << log;
}

TEST(BootLog, NoUnknownLineWhenTheKernelKnowsEveryParameter) {
  MachineConfig cfg = test::machines::pc_64m();
  cfg.cmdline = "console=ttyS0 log-buf-len=1M movablecore=8M";  // log_buf_len: - is _
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.kernel_log().dmesg().find("Unknown kernel"), std::string::npos);
}

// i386 without CONFIG_NUMA: no fallback order or policy zone; the arch limit
// of 32-bit pfns; HighMem among the zone ranges, above 896 MiB (max_low_pfn,
// see I386.Layout in buddy_test.cpp), the hole below 1 GiB appended to it.
TEST(BootLog, I386) {
  MEMD_BOOT(m, test::machines::i386_1g());
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("last_pfn = 0x3ffe0 max_arch_pfn = 0x100000\n"), std::string::npos) << log;
  EXPECT_NE(log.find("  DMA      [mem 0x0000000000001000-0x0000000000ffffff]\n"
                     "[    0.000000]   Normal   [mem 0x0000000001000000-0x0000000037ffffff]\n"
                     "[    0.000000]   HighMem  [mem 0x0000000038000000-0x000000003ffdffff]\n"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("Fallback order"), std::string::npos);
  EXPECT_EQ(log.find("Policy zone"), std::string::npos);
  EXPECT_NE(
      log.find("] On node 0, zone HighMem: 32 pages in unavailable ranges\n"
               "[    0.000000] Kernel command line: \n"
               "[    0.000000] Built 1 zonelists, mobility grouping on.  Total pages: 262014\n"),
      std::string::npos)
      << log;
}

TEST(BootLog, MemorylessNode) {
  MEMD_BOOT(m, test::machines::memoryless_64m());
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("] Initmem setup node 1 as memoryless\n"), std::string::npos) << log;
  EXPECT_NE(log.find("] Fallback order for Node 1: 0 \n"), std::string::npos) << log;
  EXPECT_EQ(render_zonelists(m),
            "Node 0 fallback: DMA32/0 DMA/0\n"
            "Node 0 nofallback: DMA32/0 DMA/0\n"
            "Node 1 fallback: DMA32/0 DMA/0\n"
            "Node 1 nofallback: (none)\n");
}

// e820__update_table(): overlaps go to the higher type, neighbours of one
// type merge, the table is sorted; the BIOS-e820 lines print that table.
TEST(E820, UpdateTableResolvesOverlapsAndMerges) {
  std::vector<e820::Range> t = e820::table_of({
      {{0x100000, 0x4000000}, "usable"},
      {{0, 0x9fc00}, "usable"},
      {{0x3000000, 0x3100000}, "ACPI NVS"},
      {{0x9fc00, 0xa0000}, "reserved"},
      {{0xa0000, 0x100000}, "reserved"},
      {{0x4000000, 0x5000000}, "type 12"},
  });
  std::vector<e820::Range> u = e820::update_table(t);
  ASSERT_EQ(u.size(), 6u);
  EXPECT_EQ(u[0].start, 0u);
  EXPECT_EQ(u[0].end, 0x9fc00u);
  EXPECT_EQ(u[1].start, 0x9fc00u);  // the two reserved entries merged
  EXPECT_EQ(u[1].end, 0x100000u);
  EXPECT_EQ(u[2].end, 0x3000000u);
  EXPECT_EQ(u[3].name, "ACPI NVS");
  EXPECT_EQ(u[4].start, 0x3100000u);
  EXPECT_EQ(u[4].name, "usable");
  EXPECT_EQ(u[5].name, "type 12");
  EXPECT_EQ(e820::type_name(12), "persistent (type 12)");
  EXPECT_EQ(e820::type_of("persistent (type 12)"), 12u);
  EXPECT_EQ(e820::end_ram_pfn(u, Pfn{1} << 34, Pfn{1} << 34), 0x4000u);
}

TEST(KernelLog, DropsTheOldestRecordsAndSaysSo) {
  KernelLog log(3 * (88 + 5));  // room for three 5-byte records
  for (int i = 0; i < 5; ++i) {
    log.printk(PrintkLevel::kInfo, "line" + std::to_string(i));
  }
  EXPECT_EQ(log.dropped(), 2u);
  EXPECT_EQ(log.dmesg(),
            "[    0.000000] ** 2 printk messages dropped **\n"
            "[    0.000000] line2\n"
            "[    0.000000] line3\n"
            "[    0.000000] line4\n");
}

}  // namespace
}  // namespace memd

namespace memd {
namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// Fills the 64 MiB machine with order-10 blocks until one fails.
void exhaust_order10(Machine* m) {
  for (int i = 0; i < 64; ++i) {
    if (!m->alloc({10, gfp::kHighuserMovable, std::nullopt, 0}).ok()) return;
  }
  FAIL() << "64 order-10 allocations from 64 MiB succeeded";
}

// A failed allocation appends warn_alloc()'s report: the failure line with
// the task, its cpuset and allowed nodes, then __show_mem().
TEST(WarnAlloc, AppendsTheKernelsReport) {
  MEMD_BOOT(m, test::machines::pc_64m());
  m.set_current_comm("memctl");
  const size_t boot_records = m.kernel_log().records().size();
  exhaust_order10(&m);
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("] Policy zone: DMA32\n"
                     "[    0.000000] memctl: page allocation failure: order:10, "
                     "mode:0x100cca(GFP_HIGHUSER_MOVABLE), nodemask=(null),cpuset=/,"
                     "mems_allowed=0\n"
                     "[    0.000000] Mem-Info:\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\n[    0.000000] 0 pages hwpoisoned\n"), std::string::npos);
  EXPECT_EQ(m.kernel_log().records()[boot_records].level, PrintkLevel::kWarning);
}

// nopage_rs: one report per 10 * HZ jiffies, memd's jiffies being its
// allocation requests; the first report after the interval says how many
// were suppressed. __GFP_NOWARN neither reports nor counts.
TEST(WarnAlloc, RateLimitedByAllocationRequests) {
  MEMD_BOOT(m, test::machines::pc_64m());
  exhaust_order10(&m);
  const std::string failure = "page allocation failure: order:10";
  ASSERT_EQ(count_of(m.kernel_log().dmesg(), failure), 1u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(m.alloc({10, gfp::kHighuserMovable | gfp::kNowarn, std::nullopt, 0}).ok());
  }
  for (int i = 0; i < 2400; ++i) {  // ticks first + 101 ... first + 2500
    ASSERT_FALSE(m.alloc({10, gfp::kHighuserMovable, std::nullopt, 0}).ok());
  }
  EXPECT_EQ(count_of(m.kernel_log().dmesg(), failure), 1u);
  ASSERT_FALSE(m.alloc({10, gfp::kHighuserMovable, std::nullopt, 0}).ok());
  const std::string log = m.kernel_log().dmesg();
  EXPECT_EQ(count_of(log, failure), 2u);
  EXPECT_NE(log.find("] warn_alloc: 2400 callbacks suppressed\n[    0.000000] memd: " + failure),
            std::string::npos);
}

}  // namespace
}  // namespace memd
