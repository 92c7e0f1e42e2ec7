// Memory offline and online (Machine::offline_block, Machine::online_block):
// replayed against the scripted hotplug steps of three real 6.1 kernels
// (tests/reference/kernel-6.1/hp1..hp3/hotplug-steps), and the migration
// rules of linux-mm.md §12.5 on machines filled by hand.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/machine.h"
#include "core/machine_files.h"
#include "core/render.h"
#include "tests/core/kernel61.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

// --- the captured steps ---------------------------------------------------------------------

struct CapturedOp {
  std::string value;  // offline, online, online_kernel, online_movable
  uint64_t block = 0;
  int rc = 0;
  std::string err;
  std::vector<std::string> dmesg;  // the kernel's lines after the write, without timestamps
};

struct CapturedStep {
  std::string id;
  std::vector<CapturedOp> ops;
  std::string zoneinfo;
  std::vector<std::string> buddyinfo;
  std::map<uint64_t, std::string> block_states;
  int min_free_kbytes = 0;
};

std::vector<CapturedStep> captured_steps(const std::string& dir) {
  std::istringstream in(test::read_file(test::capture_file(dir, "hotplug-steps")));
  std::vector<CapturedStep> steps;
  std::string line, section;
  static const std::regex step(R"(^######## STEP (\S+): )");
  static const std::regex op(
      R"(^## op: echo (\w+) > /sys/devices/system/memory/memory(\d+)/state)");
  static const std::regex rc(R"(^rc=(\d+) err=(.*) uptime=)");
  static const std::regex block(R"(^memory(\d+) state=(\w+) )");
  static const std::regex mfk(R"(^min_free_kbytes = (\d+))");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, step)) {
      steps.push_back({});
      steps.back().id = m[1];
      section.clear();
      continue;
    }
    if (steps.empty()) continue;
    CapturedStep& s = steps.back();
    if (std::regex_search(line, m, op)) {
      s.ops.push_back({m[1], std::stoull(m[2]), 0, "", {}});
      section = "op";
    } else if (line.rfind("## ", 0) == 0) {
      section = line.substr(3);
    } else if (section == "op" && std::regex_search(line, m, rc)) {
      s.ops.back().rc = std::stoi(m[1]);
      s.ops.back().err = m[2];
    } else if (section == "dmesg" && !s.ops.empty() && line.size() > 15 && line[0] == '[') {
      s.ops.back().dmesg.push_back(line.substr(line.find("] ") + 2));
    } else if (section == "zoneinfo") {
      s.zoneinfo += line + "\n";
    } else if (section == "buddyinfo") {
      s.buddyinfo.push_back(line);
    } else if (section == "blocks" && std::regex_search(line, m, block)) {
      s.block_states[std::stoull(m[1])] = m[2];
    } else if (section == "sysctl" && std::regex_search(line, m, mfk)) {
      s.min_free_kbytes = std::stoi(m[1]);
    }
  }
  return steps;
}

// The kernel's write error, as the capture's shell printed it.
std::string shell_error(int error) {
  if (error == 0) return "<none>";
  if (error == EBUSY) return "sh: write error: Device or resource busy";
  if (error == EINVAL) return "sh: write error: Invalid argument";
  return "errno " + std::to_string(error);
}

// The kernel's lines memd prints too: not offline_pages()'s pr_debug lines
// (dynamic debug was on in the captures; 6.18 prints them only so), nor
// dump_page()'s report of the unmovable page (memd does not emulate it).
std::vector<std::string> printed_by_memd(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const std::string& l : lines) {
    bool skip = false;
    for (const char* prefix : {"Offlined Pages", "memory offlining", "page:", "flags:", "raw:",
                               "page dumped because", "head:", "memcg:"}) {
      skip |= l.rfind(prefix, 0) == 0;
    }
    if (!skip) out.push_back(l);
  }
  return out;
}

// "Total pages" of build_all_zonelists()' line is nr_free_zone_pages(),
// managed minus the high watermarks: with a populated ZONE_MOVABLE the
// watermarks of 6.1 and 6.18 differ (D5, D6 of
// tests/render/kernel61_zoneinfo_test.cpp), so the number is masked there.
std::vector<std::string> mask_total_pages(std::vector<std::string> lines, bool movable) {
  static const std::regex total(R"(Total pages: \d+)");
  for (std::string& l : lines) {
    if (movable) l = std::regex_replace(l, total, "Total pages: (D5/D6)");
  }
  return lines;
}

bool movable_populated(const std::string& zoneinfo) {
  for (const auto& z : test::parse_zoneinfo(zoneinfo)) {
    if (z.name == "Movable" && z.present > 0) return true;
  }
  return false;
}

std::vector<std::string> log_since(const Machine& m, size_t from) {
  std::vector<std::string> out;
  const auto& records = m.kernel_log().records();
  for (size_t i = from; i < records.size(); ++i)
    out.push_back(records[i].text);
  return out;
}

HotplugResult apply(Machine* m, const CapturedOp& op) {
  if (op.value == "offline") return m->offline_block(op.block);
  OnlineType type = OnlineType::kOnline;
  if (op.value == "online_kernel") type = OnlineType::kOnlineKernel;
  if (op.value == "online_movable") type = OnlineType::kOnlineMovable;
  return m->online_block(op.block, type);
}

// "Node 0, zone  Movable  0 2 ... 117" -> (node 0 Movable, order-10 count).
std::map<std::string, uint64_t> order10_counts(const std::vector<std::string>& lines) {
  std::map<std::string, uint64_t> out;
  for (const std::string& l : lines) {
    std::istringstream in(l);
    std::string node, nid, zone, name, count;
    in >> node >> nid >> zone >> name;
    std::vector<std::string> counts;
    while (in >> count)
      counts.push_back(count);
    if (counts.size() == kNrPageOrders) out[nid + name] = std::stoull(counts.back());
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l))
    out.push_back(l);
  return out;
}

// Every zone's start_pfn, spanned, present and managed equal the kernel's;
// the watermarks too where 6.1 computes them as 6.18 does (no populated
// Movable zone: D6 of tests/render/kernel61_zoneinfo_test.cpp).
void expect_zoneinfo(const Machine& m, const std::string& captured, const std::string& where) {
  const auto want = test::parse_zoneinfo(captured);
  const auto got = test::parse_zoneinfo(render(ProcFile::kZoneinfo, m.stats()));
  bool movable_populated = false;
  for (const auto& z : want)
    movable_populated |= z.name == "Movable" && z.present > 0;
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string zone = where + " node " + std::to_string(want[i].nid) + " " + want[i].name;
    EXPECT_EQ(got[i].name, want[i].name) << zone;
    EXPECT_EQ(got[i].spanned, want[i].spanned) << zone;
    EXPECT_EQ(got[i].present, want[i].present) << zone;
    EXPECT_EQ(got[i].managed, want[i].managed) << zone;
    if (want[i].present > 0) {
      EXPECT_EQ(got[i].start_pfn, want[i].start_pfn) << zone;
    }
    if (movable_populated || want[i].present == 0) continue;
    EXPECT_EQ(got[i].min, want[i].min) << zone;
    EXPECT_EQ(got[i].low, want[i].low) << zone;
    EXPECT_EQ(got[i].high, want[i].high) << zone;
  }
}

// Replays every offline/online write of a capture's steps (up to the
// compaction step, which is not hotplug) on memd booted as the captured
// machine: each write's success or errno and the kernel's log lines (those
// memd prints: the rebuilt zonelists when a zone is populated or emptied),
// then per step the zones, the
// blocks' states, min_free_kbytes, and the order-10 free blocks a
// successful offline removed from its zone.
void replay_capture(const std::string& dir, int expected_ops) {
  auto booted = Machine::boot(test::kernel61_config(dir));
  ASSERT_TRUE(booted) << booted.error().message;
  Machine& m = **booted;
  int ops = 0;
  std::map<std::string, uint64_t> before =
      order10_counts(lines_of(render(ProcFile::kBuddyinfo, m.stats())));
  std::map<std::string, uint64_t> kernel_before;
  for (const CapturedStep& step : captured_steps(dir)) {
    const std::string where = dir + " step " + step.id;
    if (step.id == "f") break;  // echo 1 > compact_memory
    for (const CapturedOp& op : step.ops) {
      const size_t logged = m.kernel_log().records().size();
      const HotplugResult r = apply(&m, op);
      const bool movable = movable_populated(step.zoneinfo);
      EXPECT_EQ(mask_total_pages(log_since(m, logged), movable),
                mask_total_pages(printed_by_memd(op.dmesg), movable))
          << where << ": " << op.value << " memory" << op.block;
      EXPECT_EQ(shell_error(r.error), op.err)
          << where << ": " << op.value << " memory" << op.block << ": " << r.reason;
      ASSERT_TRUE(m.check().ok()) << where << ": " << m.check().problems[0];
      ++ops;
    }
    if (step.zoneinfo.empty()) continue;  // a step that only reads valid_zones, or skipped
    expect_zoneinfo(m, step.zoneinfo, where);
    EXPECT_EQ(m.min_free_kbytes(), step.min_free_kbytes) << where;
    for (const auto& [id, state] : step.block_states) {
      EXPECT_EQ(render_memory_block_file(m, id, MemoryBlockFile::kState), state + "\n")
          << where << " memory" << id;
    }
    const auto after = order10_counts(lines_of(render(ProcFile::kBuddyinfo, m.stats())));
    const auto kernel_after = order10_counts(step.buddyinfo);
    const bool one_offline = step.ops.size() == 1 && step.ops[0].value == "offline";
    if (one_offline && step.ops[0].rc == 0) {
      for (const auto& [zone, n] : kernel_after) {
        if (!kernel_before.count(zone) || !before.count(zone)) continue;
        EXPECT_EQ(static_cast<int64_t>(after.at(zone)) - static_cast<int64_t>(before.at(zone)),
                  static_cast<int64_t>(n) - static_cast<int64_t>(kernel_before.at(zone)))
            << where << " " << zone << " order-10 free blocks";
      }
    }
    before = after;
    kernel_before = kernel_after;
  }
  EXPECT_EQ(ops, expected_ops) << dir;
}

TEST(HotplugCapture, Hp1MovablecoreStepsMatchTheKernel) {
  replay_capture("hp1-2G-movablecore512M", 12);
}

TEST(HotplugCapture, Hp2KernelcoreStepsMatchTheKernel) {
  replay_capture("hp2-4G-kernelcore1G", 13);
}

TEST(HotplugCapture, Hp3TwoNodeStepsMatchTheKernel) {
  replay_capture("hp3-4G-2nodes", 8);
}

// --- migration on machines filled by hand ----------------------------------------------------

// 2 GiB like qemu's pc machine with movablecore=512M: ZONE_MOVABLE is
// [0x60000, 0x7ffe0), memory12..memory15 (memory15 ends in a hole).
MachineConfig movable_machine() {
  MachineConfig cfg = test::pc_machine(2 * test::kGiB, 2);
  cfg.cmdline = "movablecore=512M";
  return cfg;
}

AllocRequest request(unsigned order, Gfp gfp) {
  AllocRequest r;
  r.order = order;
  r.gfp = gfp;
  return r;
}

constexpr uint64_t kBlock14 = 14;
constexpr Pfn kBlock14Start = 14 * 32768, kBlock14End = 15 * 32768;

std::map<AllocId, Allocation> by_id(const Machine& m) {
  std::map<AllocId, Allocation> out;
  for (const Allocation& a : m.allocations({}).allocations)
    out[a.id] = a;
  return out;
}

bool in_block14(const Allocation& a) {
  return a.pfn >= kBlock14Start && a.pfn < kBlock14End;
}

TEST(HotplugOffline, MovableBlockFullOfMovableAllocationsMigratesThemKeepingTheirIds) {
  MEMD_BOOT(m, movable_machine());
  const Zone& movable = m.zone(0, 3);
  ASSERT_EQ(movable.name, "Movable");
  const uint64_t present = movable.present, managed = movable.managed;
  // 100000 pages of movable allocations, orders 0, 1, 2, 3 and 9 in turn.
  const unsigned orders[] = {0, 1, 2, 3, 9};
  uint64_t pages = 0;
  for (unsigned i = 0; pages < 100000; ++i) {
    const unsigned order = orders[i % 5];
    auto a = m.alloc(request(order, gfp::kHighuserMovable));
    ASSERT_TRUE(a) << a.error().message;
    pages += 1ULL << order;
  }
  const auto before = by_id(m);
  uint64_t in_block_pages = 0, in_block_allocs = 0, large = 0;
  for (const auto& [id, a] : before) {
    if (!in_block14(a)) continue;
    in_block_pages += 1ULL << a.order;
    ++in_block_allocs;
    large += a.order == 9;
  }
  ASSERT_GT(in_block_allocs, 200u);  // the block is well filled, orders 9 among them
  ASSERT_GT(large, 0u);

  const HotplugResult r = m.offline_block(kBlock14);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.message(true), "Offlined Pages 32768");
  EXPECT_EQ(r.migrated_pages, in_block_pages);
  EXPECT_EQ(r.migrated_allocations, in_block_allocs);
  EXPECT_EQ(m.pgmigrate_success(), in_block_pages);
  EXPECT_EQ(m.pgmigrate_fail(), 0u);
  const std::string vmstat = render(ProcFile::kVmstat, m.stats());
  EXPECT_NE(vmstat.find("\npgmigrate_success " + std::to_string(in_block_pages) + "\n"),
            std::string::npos);
  EXPECT_NE(vmstat.find("\npgmigrate_fail 0\n"), std::string::npos);
  EXPECT_NE(vmstat.find("\nthp_migration_success " + std::to_string(large) + "\n"),
            std::string::npos);
  const auto after = by_id(m);
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [id, a] : before) {
    ASSERT_TRUE(after.count(id)) << "allocation " << id << " lost";
    const Allocation& now = after.at(id);
    EXPECT_EQ(now.order, a.order) << id;
    EXPECT_EQ(now.migratetype, unsigned{kMovable}) << id;
    if (in_block14(a)) {
      EXPECT_FALSE(in_block14(now)) << id << " still in the offline block";
      EXPECT_EQ(now.pfn % (1ULL << a.order), 0u) << id;
    } else {
      EXPECT_EQ(now.pfn, a.pfn) << id << " moved though outside the block";
    }
  }
  EXPECT_EQ(movable.present, present - 32768);
  EXPECT_EQ(movable.managed, managed - 32768);
  EXPECT_EQ(render_memory_block_file(m, kBlock14, MemoryBlockFile::kState), "offline\n");
  const CheckReport check = m.check();
  EXPECT_TRUE(check.ok()) << check.problems[0];

  // Back online as it was: the zone's sizes return, and the block's pages
  // are free again.
  const HotplugResult on = m.online_block(kBlock14, OnlineType::kOnlineMovable);
  ASSERT_TRUE(on.ok()) << on.reason;
  EXPECT_EQ(movable.present, present);
  EXPECT_EQ(movable.managed, managed);
  EXPECT_TRUE(m.check().ok());
}

// A machine full of movable allocations (order 6, then order 0 for what is
// left): the first source, the block's highest allocation, finds no target,
// so the first pass migrates nothing and the offline gives up (EINTR) with
// the block online and every allocation where it was.
TEST(HotplugOffline, WithoutTargetsTheOfflineGivesUpAndNothingMoves) {
  MEMD_BOOT(m, movable_machine());
  while (m.alloc(request(6, gfp::kHighuserMovable | gfp::kNowarn))) {
  }
  while (m.alloc(request(0, gfp::kHighuserMovable | gfp::kNowarn))) {
  }
  const auto before = by_id(m);
  Allocation highest;
  for (const auto& [id, a] : before) {
    if (in_block14(a) && a.pfn >= highest.pfn) highest = a;
  }
  ASSERT_TRUE(in_block14(highest));
  const HotplugResult r = m.offline_block(kBlock14);
  EXPECT_EQ(r.error, EINTR);
  EXPECT_EQ(r.reason, "signal backoff");
  EXPECT_EQ(r.migrated_pages, 0u);
  EXPECT_EQ(r.failed_pages, 1ULL << highest.order);
  EXPECT_EQ(m.pgmigrate_fail(), 1ULL << highest.order);
  EXPECT_EQ(m.pgmigrate_success(), 0u);
  const auto after = by_id(m);
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [id, a] : before) {
    EXPECT_EQ(after.at(id).pfn, a.pfn) << id;
  }
  EXPECT_EQ(render_memory_block_file(m, kBlock14, MemoryBlockFile::kState), "online\n");
  const CheckReport check = m.check();
  EXPECT_TRUE(check.ok()) << check.problems[0];
}

// The files memd shows, all of them, and the blocks' files.
std::string every_file(const Machine& m) {
  std::string out;
  const MachineStats stats = m.stats();
  for (ProcFile f : kStatsFiles)
    out += render(f, stats);
  for (const MemoryBlock& b : m.memory_blocks().blocks()) {
    for (MemoryBlockFile f : kMemoryBlockFiles)
      out += *render_memory_block_file(m, b.id, f);
  }
  return out;
}

TEST(HotplugOffline, NormalBlockWithAnUnmovablePageIsBusyAndChangesNothing) {
  MEMD_BOOT(m, test::pc_machine(4 * test::kGiB, 2));
  // Order 4: above the pcp orders, so no per-cpu list holds a page and
  // zone_pcp_disable() has nothing to drain.
  auto a = m.alloc(request(4, gfp::kKernel));
  ASSERT_TRUE(a);
  ASSERT_EQ(a->zone_name, "Normal");
  const uint64_t block = a->pfn / 32768;
  const std::string files = every_file(m);
  const HotplugResult r = m.offline_block(block);
  EXPECT_EQ(r.error, EBUSY);
  char want[100];
  std::snprintf(want, sizeof want,
                "memory offlining [mem %#010llx-%#010llx] failed due to failure to isolate range",
                static_cast<unsigned long long>(block) << 27,
                (static_cast<unsigned long long>(block + 1) << 27) - 1);
  EXPECT_EQ(r.message(true), want);
  EXPECT_EQ(every_file(m), files);
  EXPECT_EQ(m.find_id(a->id)->pfn, a->pfn);
  EXPECT_TRUE(m.check().ok());
}

TEST(HotplugOffline, BusyOfflineLeavesTheZonesPcpListsDrained) {
  MEMD_BOOT(m, test::pc_machine(4 * test::kGiB, 2));
  auto a = m.alloc(request(0, gfp::kKernel));
  ASSERT_TRUE(a);
  const Zone& normal = m.zone(0, a->zone_idx);
  ASSERT_GT(normal.pcp[0].count, 0);  // rmqueue_bulk() filled cpu 0's list
  const int64_t free_before = normal.nr_free_pages;
  const int on_pcp = normal.pcp[0].count;
  EXPECT_EQ(m.offline_block(a->pfn / 32768).error, EBUSY);
  EXPECT_EQ(normal.pcp[0].count, 0);
  EXPECT_EQ(normal.nr_free_pages, free_before + on_pcp);
  EXPECT_EQ(normal.pcp[0].batch, normal.pageset_batch);  // zone_pcp_enable()
  EXPECT_TRUE(m.check().ok());
}

TEST(HotplugOffline, RefusalsBeforeAnythingRuns) {
  MEMD_BOOT(m, movable_machine());
  EXPECT_EQ(m.offline_block(15).reason, "memory holes");  // RAM ends 128 KiB below 2 GiB
  EXPECT_EQ(m.offline_block(15).error, EINVAL);
  EXPECT_EQ(m.offline_block(0).error, EINVAL);  // DMA and DMA32: valid_zones none
  EXPECT_EQ(m.offline_block(99).error, ENOENT);
  EXPECT_EQ(m.online_block(14, OnlineType::kOnline).error, EINVAL);  // already online
  ASSERT_TRUE(m.offline_block(14).ok());
  EXPECT_EQ(m.offline_block(14).error, EINVAL);  // already offline
  EXPECT_TRUE(m.check().ok());
}

// online_pages(): the block's MAX_ORDER chunks go to the tail of the
// Isolate list, then un-isolation re-merges each into an order-10 Movable
// block at the tail of the Movable list (__putback_isolated_page(),
// FPI_TO_TAIL), in ascending pfn order: behind the blocks already free.
TEST(HotplugOnline, ChunksMergeToTheTailInAscendingOrder) {
  MEMD_BOOT(m, movable_machine());
  const Zone& movable = m.zone(0, 3);
  const std::vector<Pfn> before = test::free_list(movable, kMaxPageOrder, kMovable);
  ASSERT_TRUE(m.offline_block(kBlock14).ok());
  ASSERT_TRUE(m.online_block(kBlock14, OnlineType::kOnlineMovable).ok());
  std::vector<Pfn> want;
  for (Pfn p : before) {
    if (!in_block14(Allocation{0, p, 0, 0, 0, {}, 0})) want.push_back(p);
  }
  for (Pfn p = kBlock14Start; p < kBlock14End; p += kMaxOrderNrPages)
    want.push_back(p);
  EXPECT_EQ(test::free_list(movable, kMaxPageOrder, kMovable), want);
  EXPECT_EQ(movable.free_area[kMaxPageOrder].nr[kIsolate], 0u);
  // The block counts: the block's 64 pageblocks are Movable again.
  EXPECT_EQ(movable.block_count[kIsolate], 0u);
  EXPECT_TRUE(m.check().ok());

  // Into the empty Normal zone (online_kernel): only the block's chunks.
  ASSERT_TRUE(m.offline_block(kBlock14).ok());
  ASSERT_TRUE(m.online_block(kBlock14, OnlineType::kOnlineKernel).ok());
  const Zone& normal = m.zone(0, 2);
  want.clear();
  for (Pfn p = kBlock14Start; p < kBlock14End; p += kMaxOrderNrPages)
    want.push_back(p);
  EXPECT_EQ(test::free_list(normal, kMaxPageOrder, kMovable), want);
  EXPECT_EQ(normal.block_count[kMovable], 64u);
  EXPECT_EQ(normal.start_pfn, kBlock14Start);
  EXPECT_EQ(normal.spanned, 32768u);
  EXPECT_TRUE(m.check().ok());
}

// init_per_zone_wmark_min() after a hotplug keeps a min_free_kbytes the
// user wrote ("is not updated ... user defined value is preferred"), then
// khugepaged's recommendation raises it and says so, as 6.18 does: 11264
// pages (512 x 2 zones x 11) = 45056 kB on hp1's DMA and DMA32.
TEST(HotplugOffline, UserMinFreeKbytesIsKeptThenRaisedForThp) {
  auto booted = Machine::boot(test::kernel61_config("hp1-2G-movablecore512M"));
  ASSERT_TRUE(booted);
  Machine& m = **booted;
  ASSERT_TRUE(m.set_sysctl("min_free_kbytes", "8192"));
  const size_t logged = m.kernel_log().records().size();
  ASSERT_TRUE(m.offline_block(14).ok());
  const std::vector<std::string> lines = log_since(m, logged);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex("min_free_kbytes is not updated to \\d+ because user defined value "
                           "8192 is preferred")))
      << lines[0];
  EXPECT_EQ(lines[1],
            "raising min_free_kbytes from 8192 to 45056 to help transparent hugepage allocations");
  EXPECT_EQ(m.min_free_kbytes(), 45056);
}

// Offline and onlined blocks survive save_state/restore_state and
// copy_from: the same files, the same state bytes, and the same next
// allocations.
TEST(HotplugState, SavedRestoredAndCopiedWithTheBlocksStates) {
  auto booted = Machine::boot(test::kernel61_config("hp1-2G-movablecore512M"));
  ASSERT_TRUE(booted);
  Machine& m = **booted;
  for (int i = 0; i < 60000; ++i) {
    ASSERT_TRUE(m.alloc(request(i % 4, i % 3 ? gfp::kHighuserMovable : gfp::kKernel)));
  }
  ASSERT_TRUE(m.offline_block(14).ok());
  ASSERT_TRUE(m.online_block(14, OnlineType::kOnlineKernel).ok());  // a new Normal zone
  ASSERT_TRUE(m.offline_block(13).ok());                            // an interior Movable block
  ASSERT_GT(m.pgmigrate_success(), 0u);
  const std::string saved = m.save_state();
  auto restored = Machine::restore_state(m.config(), saved);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ((*restored)->save_state(), saved);
  auto copy = test::boot(m.config());
  ASSERT_NE(copy, nullptr);
  copy->copy_from(m);
  for (Machine* other : {restored->get(), copy.get()}) {
    EXPECT_EQ(every_file(*other), every_file(m));
    EXPECT_TRUE(other->check().ok());
    auto twin = m.clone();
    for (int i = 0; i < 200; ++i) {
      const AllocRequest req = request(i % 3, gfp::kHighuserMovable);
      EXPECT_EQ(other->alloc(req)->pfn, twin->alloc(req)->pfn) << i;
    }
  }
  EXPECT_TRUE(m.online_block(13, OnlineType::kOnline).ok());
  EXPECT_TRUE(m.check().ok());
}

// A state file of format version 1 (before memory hotplug: no hotplug part
// after the pageblock bitmap) still loads, every block online and every
// zone as booted: made here from a version 2 state of a machine that never
// went through a hotplug, by cutting that part out and writing the old header.
uint64_t fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

template <typename T>
void put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

TEST(HotplugState, VersionOneStatesStillLoad) {
  MEMD_BOOT(m, movable_machine());
  for (unsigned i = 0; i < 500; ++i) {
    ASSERT_TRUE(m.alloc(request(i % 4, i % 2 ? gfp::kHighuserMovable : gfp::kKernel)));
  }
  const std::string v2 = m.save_state();
  constexpr size_t kHeader = 8 + 4 + 8 + 8 + 8;
  const std::string_view body = std::string_view(v2).substr(kHeader);
  // Globals: 4 u64, 5 i32, 2 u8, the ratios (u64 count, i32 each), the
  // pageblock bitmap (u64 count, a byte each); then the hotplug part: 5 u64,
  // the blocks (u64 count, 2 bytes each), the zones (u64 count, 6 u64 each).
  uint64_t n = 0;
  size_t at = 4 * 8 + 5 * 4 + 2;
  std::memcpy(&n, body.data() + at, 8);
  at += 8 + n * 4;
  std::memcpy(&n, body.data() + at, 8);
  at += 8 + n;
  size_t end = at + 5 * 8;
  std::memcpy(&n, body.data() + end, 8);
  end += 8 + n * 2;
  std::memcpy(&n, body.data() + end, 8);
  end += 8 + n * 6 * 8;
  const std::string v1_body = std::string(body.substr(0, at)) + std::string(body.substr(end));
  std::string v1 = v2.substr(0, 8);
  put<uint32_t>(&v1, 1);
  v1 += v2.substr(12, 8);  // the configuration's digest
  put<uint64_t>(&v1, v1_body.size());
  put<uint64_t>(&v1, fnv1a(v1_body));
  v1 += v1_body;
  auto restored = Machine::restore_state(m.config(), v1);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ((*restored)->save_state(), v2);
  // A version memd does not know is refused, naming the versions it reads.
  std::string v3 = v2;
  v3[8] = 3;
  EXPECT_EQ(Machine::restore_state(m.config(), v3).error().message,
            "state refused: format version 3, memd reads 1 to 2");
}

}  // namespace
}  // namespace memd
