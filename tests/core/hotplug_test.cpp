// Memory offline and online (Machine::offline_block, Machine::online_block):
// replayed against the scripted hotplug steps of three real 6.1 kernels
// (tests/reference/kernel-6.1/hp1..hp3/hotplug-steps), and the migration
// rules of linux-mm.md §12.5 on machines filled by hand.
#include <gtest/gtest.h>

#include <cerrno>
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
      s.ops.push_back({m[1], std::stoull(m[2]), 0, ""});
      section = "op";
    } else if (line.rfind("## ", 0) == 0) {
      section = line.substr(3);
    } else if (section == "op" && std::regex_search(line, m, rc)) {
      s.ops.back().rc = std::stoi(m[1]);
      s.ops.back().err = m[2];
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
// machine: each write's success or errno, then per step the zones, the
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
      const HotplugResult r = apply(&m, op);
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

}  // namespace
}  // namespace memd
