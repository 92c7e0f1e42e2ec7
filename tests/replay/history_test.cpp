// The history of a replay (core/replay_history.h, Replayer::start_history):
// rows at event 0, at every multiple of N and at the end, with values worked
// out by hand from the kernel's rules for a small machine (the allocations of
// tests/render/golden_test.cpp's pc64m-allocs, whose state is checked there
// against hand-written files, then four order-10 DMA allocations).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "core/render.h"
#include "core/replay_history.h"
#include "tests/core/machines.h"
#include "tests/replay/replay_helpers.h"

namespace memd::testing {
namespace {

// The pc64m-allocs steps (a)..(f) as trace events 1..6, then 7..10: order-10
// GFP_KERNEL|__GFP_DMA allocations. Lines that are not events (a header, the
// trace's own extfrag event, a malformed alloc, a blank) sit in between and
// must not count.
std::string hand_trace() {
  return "# tracer: nop\n" + alloc_line(0, 0x1000, 0, "GFP_KERNEL") +   // 1 (a)
         alloc_line(0, 0x1001, 0, "GFP_KERNEL") +                       // 2 (b)
         extfrag_line(0, 0x1000, 0, 10, 0, 1, true) +                   // not an event
         alloc_line(0, 0x1008, 3, "GFP_KERNEL") +                       // 3 (c)
         head(0) + "mm_page_alloc: page=00000000d075e96b pfn=0xzz\n" +  // malformed
         alloc_line(0, 0x2000, 0, "GFP_HIGHUSER_MOVABLE") +             // 4 (d)
         "\n" + alloc_line(0, 0x3000, 0, "GFP_KERNEL|__GFP_DMA") +      // 5 (e)
         free_line(0, 0x1008, 3) +                                      // 6 (f)
         alloc_line(0, 0x4000, 10, "GFP_KERNEL|__GFP_DMA") +            // 7
         alloc_line(0, 0x4400, 10, "GFP_KERNEL|__GFP_DMA") +            // 8
         alloc_line(0, 0x4800, 10, "GFP_KERNEL|__GFP_DMA") +            // 9
         alloc_line(0, 0x4c00, 10, "GFP_KERNEL|__GFP_DMA");             // 10
}

// The rows, worked out by hand (tests/render/golden_test.cpp has the
// derivation of the pc64m-boot and pc64m-allocs states):
//  * event 0: the boot state. DMA 3840 free pages, o8 o9 and 3 x o10, blocks
//    1 Unmovable + 7 Movable; unusable o9 (3840 - 7 x 512) x 1000 / 3840 =
//    66, o10 (3840 - 3 x 1024) x 1000 / 3840 = 200. DMA32 12256, o5..o9 one
//    each and 11 x o10, 24 Movable blocks; o9 (12256 - 23 x 512) x 1000 /
//    12256 = 39, o10 (12256 - 11 x 1024) x 1000 / 12256 = 80.
//  * event 4, after (a)..(d): DMA untouched. DMA32 as pc64m-allocs' final
//    state ((e) is DMA's, (f) goes to the per-cpu list): 12241 free, 2
//    Unmovable blocks from (a)'s claim of an o10 (one claim, DMA32's);
//    o9 (12241 - 22 x 512) x 1000 / 12241 = 79, o10 (12241 - 10 x 1024) x
//    1000 / 12241 = 163.
//  * event 8: (e) split DMA's o8 (3839 free, o0..o7 one each), then events 7
//    and 8 each claimed a Movable o10 of DMA (no Unmovable block of order 10:
//    __rmqueue_claim takes the whole block, both its pageblocks become
//    Unmovable; no watermark boost for a whole-block claim): 1791 free, o9
//    and one o10, blocks 5 + 3; o9 (1791 - 3 x 512) x 1000 / 1791 = 142, o10
//    (1791 - 1024) x 1000 / 1791 = 428; 2 claims in DMA.
//  * event 10: event 9 claimed the last o10 (767 free, blocks 7 + 1, 3
//    claims; o9 (767 - 512) x 1000 / 767 = 332, o10 1000); event 10 found no
//    order-10 block in DMA and failed (linux-mm.md §15.4: costly order, no
//    reclaim progress, no pcp drain), the only failure: alloc_failures 1 in
//    both rows.
constexpr std::string_view kRows0 =
    "0,0,DMA,3840,0,0,0,0,0,0,0,0,1,1,3,1,7,0,0,0,0.066,0.200,0,0,0\n"
    "0,0,DMA32,12256,0,0,0,0,0,1,1,1,1,1,11,0,24,0,0,0,0.039,0.080,0,0,0\n";
constexpr std::string_view kRows4 =
    "4,0,DMA,3840,0,0,0,0,0,0,0,0,1,1,3,1,7,0,0,0,0.066,0.200,0,0,0\n"
    "4,0,DMA32,12241,1,0,2,1,2,1,2,2,2,2,10,2,22,0,0,0,0.079,0.163,1,0,0\n";
constexpr std::string_view kRows8 =
    "8,0,DMA,1791,1,1,1,1,1,1,1,1,0,1,1,5,3,0,0,0,0.142,0.428,2,0,0\n"
    "8,0,DMA32,12241,1,0,2,1,2,1,2,2,2,2,10,2,22,0,0,0,0.079,0.163,1,0,0\n";
constexpr std::string_view kRows10 =
    "10,0,DMA,767,1,1,1,1,1,1,1,1,0,1,0,7,1,0,0,0,0.332,1.000,3,0,1\n"
    "10,0,DMA32,12241,1,0,2,1,2,1,2,2,2,2,10,2,22,0,0,0,0.079,0.163,1,0,1\n";

// Fields separated by `sep`; runs of blanks count as one separator.
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c != sep) {
      cur += c;
    } else if (sep != ' ' || !cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty() || sep != ' ') out.push_back(cur);
  return out;
}

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view p : parts) {
    s += p;
  }
  return s;
}

class HistoryTest : public ReplayTest {
 protected:
  void SetUp() override { reboot(test::machines::pc_64m(1)); }
};

TEST_F(HistoryTest, TheHeaderNamesTheColumns) {
  EXPECT_EQ(kHistoryHeader,
            "event,node,zone,free_pages,free_0,free_1,free_2,free_3,free_4,free_5,free_6,"
            "free_7,free_8,free_9,free_10,unmovable,movable,reclaimable,highatomic,isolate,"
            "unusable_9,unusable_10,extfrag_claims,extfrag_steals,alloc_failures\n");
}

TEST_F(HistoryTest, RowsAtZeroAtEveryMultipleAndAtTheEnd) {
  replayer->start_history(4);
  EXPECT_EQ(replayer->take_history(), kRows0);
  replayer->feed(hand_trace());
  replayer->finish();
  EXPECT_EQ(replayer->take_history(), cat({kRows4, kRows8}));
  replayer->end_history();
  EXPECT_EQ(replayer->take_history(), kRows10);
  EXPECT_FALSE(replayer->history_on());
  const ReplayReport& r = replayer->report();
  EXPECT_EQ(r.events(), 10u);
  EXPECT_EQ(r.failed_allocs, 1u);
  EXPECT_EQ(r.emulator_extfrag.claims, 4u);  // one in DMA32, three in DMA
  EXPECT_EQ(r.malformed, 1u);
}

// Rows not taken yet are bounded: past the bound no row is recorded and the
// Replayer says so (the daemon then ends the replay); the events still apply.
TEST_F(HistoryTest, PendingRowsAreBounded) {
  replayer->start_history(1, kRows0.size() + 1);  // room for the rows at 0 and one more pair
  replayer->feed(hand_trace());
  EXPECT_TRUE(replayer->history_overflowed());
  const std::string rows = replayer->take_history();
  // Rows at 0 and at 1: the bound is checked before each pair of rows, and
  // at event 2 the pending rows are past it.
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 4);
  EXPECT_EQ(rows.substr(0, kRows0.size()), kRows0);
  EXPECT_EQ(replayer->report().events(), 10u);
  // A new history starts unbounded by the old overflow.
  replayer->start_history(4);
  EXPECT_FALSE(replayer->history_overflowed());
  EXPECT_EQ(replayer->take_history(), kRows10);
}

// The last rows say what buddyinfo and unusable_index print at the end.
TEST_F(HistoryTest, TheLastRowsAreTheFilesAtTheEnd) {
  replayer->start_history(4);
  replayer->feed(hand_trace());
  replayer->end_history();
  const std::string rows = replayer->take_history();
  const MachineStats s = machine->stats();
  std::istringstream buddyinfo(render_buddyinfo(s)), unusable(render_unusable_index(s));
  std::istringstream last(rows.substr(rows.size() - kRows10.size()));
  std::string row, b, u;
  while (std::getline(last, row)) {
    ASSERT_TRUE(std::getline(buddyinfo, b));
    ASSERT_TRUE(std::getline(unusable, u));
    std::vector<std::string> f = split(row, ','), bf = split(b, ' '), uf = split(u, ' ');
    ASSERT_EQ(f.size(), 25u);
    ASSERT_EQ(bf.size(), 4u + 11u);  // "Node", "0,", "zone", "DMA", 11 counts
    ASSERT_EQ(uf.size(), 4u + 11u);
    EXPECT_EQ(f[2], bf[3]);
    for (size_t o = 0; o < 11; ++o) {
      EXPECT_EQ(f[4 + o], bf[4 + o]) << row;
    }
    EXPECT_EQ(f[20], uf[4 + 9]);
    EXPECT_EQ(f[21], uf[4 + 10]);
  }
  EXPECT_FALSE(std::getline(buddyinfo, b));
}

TEST_F(HistoryTest, ChunksDoNotChangeTheRows) {
  const std::string trace = hand_trace();
  replayer->start_history(4);
  std::string rows = replayer->take_history();
  for (char c : trace) {
    replayer->feed(std::string_view(&c, 1));
    rows += replayer->take_history();
  }
  replayer->finish();
  replayer->end_history();
  rows += replayer->take_history();
  EXPECT_EQ(rows, cat({kRows0, kRows4, kRows8, kRows10}));
}

TEST_F(HistoryTest, NoSecondRowAtTheEndWhenItFallsOnAMultiple) {
  replayer->start_history(5);
  replayer->feed(hand_trace());
  replayer->end_history();
  const std::string rows = replayer->take_history();
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 6);  // events 0, 5 and 10
  EXPECT_EQ(rows.substr(rows.size() - kRows10.size()), kRows10);
  EXPECT_EQ(rows.substr(0, kRows0.size()), kRows0);
}

TEST_F(HistoryTest, EveryEvent) {
  replayer->start_history(1);
  replayer->feed(hand_trace());
  replayer->end_history();
  const std::string rows = replayer->take_history();
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 22);  // events 0..10, two zones
  EXPECT_NE(rows.find(kRows4), std::string::npos);
  EXPECT_NE(rows.find(kRows8), std::string::npos);
  EXPECT_EQ(rows.substr(rows.size() - kRows10.size()), kRows10);
}

TEST_F(HistoryTest, NoHistoryUnlessStarted) {
  replayer->feed(hand_trace());
  replayer->end_history();
  EXPECT_EQ(replayer->take_history(), "");
  EXPECT_FALSE(replayer->history_on());
}

// A replay continued: the same Replayer fed again. Its history starts over
// with the rows at the events so far and goes on counting; the fallbacks per
// zone count from the first part.
TEST_F(HistoryTest, AContinuedReplayGoesOnCounting) {
  const std::string trace = hand_trace();
  const size_t cut = trace.find(alloc_line(0, 0x4000, 10, "GFP_KERNEL|__GFP_DMA"));
  ASSERT_NE(cut, std::string::npos);
  replayer->start_history(4);
  replayer->feed(trace.substr(0, cut));  // events 1..6
  replayer->end_history();
  EXPECT_EQ(replayer->take_history().substr(kRows0.size() + kRows4.size()).substr(0, 2), "6,");
  replayer->start_history(4);
  const std::string start = replayer->take_history();
  EXPECT_EQ(start.substr(0, 2), "6,");
  EXPECT_NE(start.find("6,0,DMA32,12241,1,0,2,1,2,1,2,2,2,2,10,2,22,0,0,0,0.079,0.163,1,0,0\n"),
            std::string::npos);
  replayer->feed(trace.substr(cut));  // events 7..10
  replayer->end_history();
  EXPECT_EQ(replayer->take_history(), cat({kRows8, kRows10}));
}

// Rows follow buddyinfo: every populated zone of every node, in its order,
// and a fallback counts in the zone it took from (here node 1's DMA32: the
// first GFP_KERNEL allocation on CPU 1 claims a Movable block of its node).
TEST_F(HistoryTest, RowsPerNodeInBuddyinfosOrder) {
  reboot(test::machines::two_nodes());
  replayer->start_history(1);
  replayer->feed(alloc_line(1, 0x1000, 0, "GFP_KERNEL"));
  replayer->end_history();
  std::istringstream rows(replayer->take_history());
  std::istringstream buddyinfo(render_buddyinfo(machine->stats()));
  std::vector<std::string> at1;
  for (std::string row; std::getline(rows, row);) {
    if (row.rfind("1,", 0) == 0) at1.push_back(row);
  }
  std::vector<std::string> zones;
  for (std::string line; std::getline(buddyinfo, line);) {
    zones.push_back(line.substr(0, 21));
  }
  ASSERT_EQ(zones, (std::vector<std::string>{"Node 0, zone      DMA", "Node 0, zone    DMA32",
                                             "Node 1, zone    DMA32"}));
  ASSERT_EQ(at1.size(), 3u);
  EXPECT_EQ(at1[0].substr(0, 8), "1,0,DMA,");
  EXPECT_EQ(at1[1].substr(0, 10), "1,0,DMA32,");
  EXPECT_EQ(at1[2].substr(0, 10), "1,1,DMA32,");
  EXPECT_EQ(at1[0].substr(at1[0].size() - 6), ",0,0,0");
  EXPECT_EQ(at1[1].substr(at1[1].size() - 6), ",0,0,0");
  EXPECT_EQ(at1[2].substr(at1[2].size() - 6), ",1,0,0");
}

}  // namespace
}  // namespace memd::testing
