// The text forms of a kernel trace the replay reads: the kernel's `trace`
// file, `trace-cmd report` and `perf script` (lines as each tool printed
// them for one recording on a 6.18 host), parsed to the same events.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "core/trace_line.h"
#include "tests/replay/replay_helpers.h"

namespace memd::testing {
namespace {

// One allocation and its free, as the three tools printed them.
constexpr std::string_view kFtrace =
    "            memd-18280   [000] ..... 56432.797237: mm_page_alloc: page=00000000794b26a3 "
    "pfn=0x16f2cf order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP\n"
    "            memd-18280   [001] ..... 56432.797301: mm_page_free: page=00000000794b26a3 "
    "pfn=0x16f2cf order=0\n";
constexpr std::string_view kTraceCmd =
    "cpus=2\n"
    "            memd-18280 [000] 56432.797237: mm_page_alloc:        page=0x16f2cf "
    "pfn=0x16f2cf order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP\n"
    "            memd-18280 [001] 56432.797301: mm_page_free:         page=0x16f2cf "
    "pfn=0x16f2cf order=0\n";
constexpr std::string_view kPerf =
    "            memd 18280 [000] 56432.797237: kmem:mm_page_alloc: page=0x16f2cf pfn=0x16f2cf "
    "order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP\n"
    "            memd 18280 [001] 56432.797301: kmem:mm_page_free: page=0x16f2cf pfn=0x16f2cf "
    "order=0\n";

TEST_F(ReplayTest, TraceCmdReportLinesAreEvents) {
  const auto& r = replay(kTraceCmd);
  EXPECT_EQ(r.alloc_events, 1u);
  EXPECT_EQ(r.free_events, 1u);
  EXPECT_EQ(r.applied(), 2u);
  EXPECT_EQ(r.ignored_unrecognised, 1u);  // "cpus=2"
  EXPECT_EQ(r.malformed, 0u);
}

// trace-cmd report's other shapes: "CPU N is empty", its flags column
// (report -l), and the buffer's name before each line of a -B instance.
TEST_F(ReplayTest, TraceCmdReportShapesAreEvents) {
  const auto& r = replay(
      "CPU 1 is empty\n"
      "cpus=2\n"
      "memdtraces:             memd-18280 [000] 56432.797237: mm_page_alloc:        "
      "page=0x16f2cf pfn=0x16f2cf order=0 migratetype=1 gfp_flags=GFP_KERNEL\n"
      "            bash-4433  [000] d..1. 56432.797301: mm_page_free:         page=0x16f2cf "
      "pfn=0x16f2cf order=0\n");
  EXPECT_EQ(r.alloc_events, 1u);
  EXPECT_EQ(r.free_events, 1u);
  EXPECT_EQ(r.applied(), 2u);
  EXPECT_EQ(r.ignored_unrecognised, 2u);
  EXPECT_EQ(r.malformed, 0u);
}

TEST_F(ReplayTest, PerfScriptLinesAreEvents) {
  const auto& r = replay(kPerf);
  EXPECT_EQ(r.alloc_events, 1u);
  EXPECT_EQ(r.free_events, 1u);
  EXPECT_EQ(r.applied(), 2u);
  EXPECT_EQ(r.malformed, 0u);
}

TEST_F(ReplayTest, EveryFormLeavesTheSameMachine) {
  const std::string allocs_only[] = {std::string(kFtrace.substr(0, kFtrace.find('\n') + 1)),
                                     std::string(kTraceCmd.substr(0, kTraceCmd.find('\n', 8) + 1)),
                                     std::string(kPerf.substr(0, kPerf.find('\n') + 1))};
  std::vector<std::pair<Pfn, int>> got;  // each form's allocation and CPU 0's pcp count
  for (const std::string& text : allocs_only) {
    SCOPED_TRACE(text);
    reboot({});
    replay(text);
    auto a = machine->find_id(1);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->order, 0u);
    EXPECT_EQ(a->migratetype, unsigned{kMovable});
    EXPECT_GT(pcp(0).count, 0);  // the trace's CPU 0
    EXPECT_EQ(pcp(1).count, 0);
    got.emplace_back(a->pfn, pcp(0).count);
  }
  EXPECT_EQ(got[1], got[0]);
  EXPECT_EQ(got[2], got[0]);
}

TEST(TraceLine, PerfTaskIsCommAndPid) {
  std::string_view comm;
  int32_t pid = 0;
  EXPECT_TRUE(trace_line::parse_task("       perf-exec 18472 ", &comm, &pid));
  EXPECT_EQ(comm, "perf-exec");
  EXPECT_EQ(pid, 18472);
  EXPECT_TRUE(trace_line::parse_task("  Web Content  4711 ", &comm, &pid));
  EXPECT_EQ(comm, "Web Content");
  EXPECT_EQ(pid, 4711);
  EXPECT_TRUE(trace_line::parse_task("    kworker/u8:2-123  ", &comm, &pid));
  EXPECT_EQ(comm, "kworker/u8:2");
  EXPECT_EQ(pid, 123);
}

TEST(TraceLine, SystemPrefixNamesTheEvent) {
  trace_line::EventHead head;
  ASSERT_TRUE(trace_line::match_event(
      "perf 1 [001] 5.0: kmem:mm_page_free: page=0x1 pfn=0x1 order=0", &head));
  EXPECT_EQ(head.name, "mm_page_free");
  EXPECT_EQ(head.cpu, 1u);
  // A second name needs its own colon and a blank after it.
  EXPECT_FALSE(trace_line::match_event("perf 1 [001] 5.0: kmem:mm_page_free page=0x1", &head));
  EXPECT_FALSE(trace_line::match_event("perf 1 [001] 5.0: kmem:mm_page_free:x", &head));
}

}  // namespace
}  // namespace memd::testing
