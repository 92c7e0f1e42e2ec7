// Malformed input: every bad line is counted, reported with its line number
// and skipped; nothing crashes and the machine stays consistent.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tests/replay/replay_helpers.h"

namespace memd::testing {
namespace {

constexpr uint64_t kPfn = 0x112db0;

class MalformedTest : public ReplayTest {
 protected:
  // Replays `line` on a fresh machine and expects it to be malformed with a
  // reason containing `why`.
  void expect_malformed(const std::string& line, std::string_view why) {
    SCOPED_TRACE(line);
    reboot({});
    const ReplayReport& r = replay(line);
    EXPECT_EQ(r.lines, 1u);
    EXPECT_EQ(r.malformed, 1u);
    EXPECT_EQ(r.events(), 0u);
    EXPECT_EQ(machine->nr_allocations(), 0u);
    ASSERT_EQ(r.malformed_samples.size(), 1u);
    EXPECT_EQ(r.malformed_samples[0].first, 1u);
    EXPECT_NE(r.malformed_samples[0].second.find(why), std::string::npos)
        << r.malformed_samples[0].second;
    expect_printable(r.malformed_samples[0].second);
  }
  static void expect_printable(const std::string& s) {
    for (char c : s)
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unprintable byte in: " << s;
  }
  static std::string alloc_with(std::string_view fields) {
    return head(0) + "mm_page_alloc: " + std::string(fields) + "\n";
  }
  static std::string free_with(std::string_view fields) {
    return head(0) + "mm_page_free: " + std::string(fields) + "\n";
  }
};

TEST_F(MalformedTest, UnknownGfpFlag) {
  expect_malformed(alloc_line(0, kPfn, 0, "GFP_KERNEL|__GFP_BOGUS"),
                   "mm_page_alloc: unknown GFP flag '__GFP_BOGUS'");
  expect_malformed(alloc_line(0, kPfn, 0, "GFP_KERNEL||__GFP_ZERO"), "empty flag name");
  expect_malformed(alloc_line(0, kPfn, 0, "GFP_KERNEL|0x1ffffffff"), "unknown GFP flag");
}

TEST_F(MalformedTest, BadNumbers) {
  const std::string tail = " order=0 migratetype=0 gfp_flags=GFP_KERNEL";
  expect_malformed(alloc_with("page=0 pfn=0xzz" + tail), "bad pfn='0xzz'");
  expect_malformed(alloc_with("page=0 pfn=0x" + tail), "bad pfn='0x'");
  expect_malformed(alloc_with("page=0 pfn=112db0" + tail), "bad pfn='112db0'");
  expect_malformed(alloc_with("page=0 pfn=0x12345678901234567" + tail), "bad pfn=");
  expect_malformed(alloc_with("page=0 pfn=0x-1" + tail), "bad pfn=");
  const std::string pfn = "page=0 pfn=0x10 ";
  expect_malformed(alloc_with(pfn + "order=-1 migratetype=0 gfp_flags=GFP_KERNEL"),
                   "bad order='-1'");
  expect_malformed(alloc_with(pfn + "order=x migratetype=0 gfp_flags=GFP_KERNEL"), "bad order=");
  expect_malformed(alloc_with(pfn + "order=+1 migratetype=0 gfp_flags=GFP_KERNEL"), "bad order=");
  expect_malformed(alloc_with(pfn + "order=99999999999 migratetype=0 gfp_flags=GFP_KERNEL"),
                   "bad order='99999999999'");
  expect_malformed(alloc_with(pfn + "order=0 migratetype=one gfp_flags=GFP_KERNEL"),
                   "bad migratetype='one'");
  expect_malformed(free_with("page=0 pfn=0x10 order=1.5"), "mm_page_free: bad order='1.5'");
}

TEST_F(MalformedTest, FreeOfOrderAboveTen) {
  expect_malformed(free_line(0, kPfn, 11), "mm_page_free: order 11 is above MAX_PAGE_ORDER (10)");
}

TEST_F(MalformedTest, AllocOfOrderAboveTenIsRefusedAndReported) {
  const auto& r = replay(alloc_line(0, kPfn, 12) + alloc_line(0, kPfn, 4000000000u));
  EXPECT_EQ(r.skipped_alloc_refused, 2u);
  ASSERT_EQ(r.malformed_samples.size(), 2u);
  EXPECT_EQ(r.malformed_samples[1],
            (std::pair<uint64_t, std::string>{
                2, "refused: order 4000000000 is above MAX_PAGE_ORDER (10)"}));
}

TEST_F(MalformedTest, MissingOrReorderedFields) {
  expect_malformed(alloc_with("pfn=0x10 order=0 migratetype=0 gfp_flags=GFP_KERNEL"),
                   "mm_page_alloc: expected page= at 'pfn=0x10");
  expect_malformed(alloc_with("page=0 order=0 pfn=0x10 migratetype=0 gfp_flags=GFP_KERNEL"),
                   "expected pfn=");
  expect_malformed(alloc_with("page=0 pfn=0x10 order=0 migratetype=0"),
                   "truncated before gfp_flags=");
  expect_malformed(alloc_with("page=0 pfn=0x10 order=0 migratetype=0 gfp_flags= x"),
                   "bad gfp_flags=''");
  expect_malformed(alloc_with("page=0 pfn=0x10 order=0 migratetype=0 gfp_flags=GFP_KERNEL x=1"),
                   "unexpected text at the end: 'x=1'");
  expect_malformed(free_with("page=0 pfn=0x10 order=0 order=0"), "unexpected text");
  expect_malformed(head(0) + "mm_page_free:\n", "mm_page_free: truncated before page=");
}

TEST_F(MalformedTest, MalformedExtfragLine) {
  expect_malformed(head(0) + "mm_page_alloc_extfrag: page=0 pfn=0x10 alloc_order=0\n",
                   "mm_page_alloc_extfrag: truncated before fallback_order=");
}

TEST_F(MalformedTest, EveryTruncationOfAnAllocLine) {
  // Cut a valid line at every byte. Before "mm_page_alloc:" is complete the
  // line is not an event (ignored); after, it is malformed, except when the
  // cut leaves a valid flag string: "GFP_KERNEL" of "GFP_KERNEL|__GFP_ZERO".
  const std::string line =
      "bash-4433 [001] ...2. 222.995211: mm_page_alloc: page=000000000449e82d "
      "pfn=0x112db0 order=0 migratetype=0 gfp_flags=GFP_KERNEL|__GFP_ZERO";
  const size_t event_end = line.find("mm_page_alloc:") + std::string("mm_page_alloc:").size();
  std::string trace;
  for (size_t i = 0; i <= line.size(); ++i)
    trace += line.substr(0, i) + "\n";
  const auto& r = replay(trace);
  EXPECT_EQ(r.lines, line.size() + 1);
  EXPECT_EQ(r.ignored_blank, 1u);                    // the empty cut
  EXPECT_EQ(r.ignored_unrecognised, event_end - 1);  // cuts 1 .. event_end-1
  EXPECT_EQ(r.alloc_events, 2u);                     // "GFP_KERNEL" and the whole line
  EXPECT_EQ(r.malformed, line.size() + 1 - event_end - 2);
  EXPECT_EQ(r.applied_allocs, 2u);
  EXPECT_EQ(r.realloc_without_free, 1u);
  ASSERT_EQ(r.malformed_samples.size(), r.malformed);
  EXPECT_EQ(r.malformed_samples[0].first, event_end + 1);  // line numbers count from 1
}

TEST_F(MalformedTest, GarbageAndNulBytes) {
  std::string nul_in_pfn = alloc_line(0, kPfn, 0);
  nul_in_pfn[nul_in_pfn.find("pfn=0x") + 7] = '\0';
  expect_malformed(nul_in_pfn, "bad pfn='0x1\\x00");
  std::string ff_in_flags = alloc_line(0, kPfn, 0, "GFP_KERNEL|\xff\xfe");
  expect_malformed(ff_in_flags, "unknown GFP flag '\\xff\\xfe'");
  // Garbage in the task name does not matter: the fields are what counts.
  reboot({});
  const auto& r =
      replay(head(1, std::string("t\0\xff\x01z-1", 7)) + "mm_page_free: page=0 pfn=0x10 order=0\n");
  EXPECT_EQ(r.free_events, 1u);
  EXPECT_EQ(r.skipped_free_before_trace, 1u);
}

TEST_F(MalformedTest, HugeLineIsMalformedHoweverItIsFed) {
  const std::string huge = head(0) + "mm_page_alloc: page=0 " + std::string(1 << 20, 'x') + "\n";
  const std::string trace = alloc_line(0, kPfn, 0) + huge + free_line(0, kPfn, 0);
  for (size_t chunk : {trace.size(), size_t{1000}, size_t{65536}, size_t{7}}) {
    SCOPED_TRACE(chunk);
    reboot({});
    for (size_t i = 0; i < trace.size(); i += chunk)
      replayer->feed(trace.substr(i, chunk));
    replayer->finish();
    const ReplayReport& r = replayer->report();
    expect_consistent(r);
    EXPECT_EQ(r.lines, 3u);
    EXPECT_EQ(r.malformed, 1u);
    EXPECT_EQ(r.applied_allocs, 1u);
    EXPECT_EQ(r.applied_frees, 1u);
    ASSERT_EQ(r.malformed_samples.size(), 1u);
    EXPECT_EQ(r.malformed_samples[0],
              (std::pair<uint64_t, std::string>{2, "line longer than 65536 bytes"}));
  }
}

TEST_F(MalformedTest, HugeUnterminatedLineAtTheEnd) {
  const std::string huge(200000, '[');
  for (size_t i = 0; i < huge.size(); i += 4096)
    replayer->feed(huge.substr(i, 4096));
  replayer->finish();
  EXPECT_EQ(replayer->report().lines, 1u);
  EXPECT_EQ(replayer->report().malformed, 1u);
}

TEST_F(MalformedTest, SamplesAreCappedButEveryLineIsCounted) {
  std::string trace;
  for (int i = 0; i < 1000; ++i)
    trace += alloc_line(0, kPfn, 0, "__GFP_NOPE");
  const auto& r = replay(trace);
  EXPECT_EQ(r.malformed, 1000u);
  EXPECT_EQ(r.malformed_samples.size(), ReplayReport::kMaxSamples);
  EXPECT_EQ(r.malformed_samples.back().first, ReplayReport::kMaxSamples);
}

TEST_F(MalformedTest, RandomBytesNeverCrash) {
  // Random bytes, random event-like fragments and random cuts: every line is
  // accounted for and the machine stays consistent.
  std::mt19937_64 rng(42);
  const std::string pieces[] = {alloc_line(1, kPfn, 0),
                                free_line(0, kPfn, 0),
                                batched_line(0, kPfn),
                                alloc_line(0, 0x10, 10, "GFP_HIGHUSER_MOVABLE"),
                                " [001] .... 1.0: mm_page_alloc: page=",
                                "pfn=0x",
                                "gfp_flags=",
                                "|0x",
                                "\n",
                                "CPU:0 [LOST ",
                                std::string(1, '\0')};
  std::string trace;
  while (trace.size() < (4u << 20)) {
    if (rng() % 3 == 0) {
      trace += pieces[rng() % std::size(pieces)];
    } else {
      const size_t n = rng() % 64;
      for (size_t i = 0; i < n; ++i)
        trace += static_cast<char>(rng());
    }
  }
  uint64_t newlines = std::count(trace.begin(), trace.end(), '\n');
  for (size_t i = 0; i < trace.size();) {
    const size_t n = 1 + rng() % 100000;
    replayer->feed(std::string_view(trace).substr(i, n));
    i += n;
  }
  replayer->finish();
  const ReplayReport& r = replayer->report();
  expect_consistent(r);
  EXPECT_EQ(r.lines, newlines + (trace.back() == '\n' ? 0 : 1));
  EXPECT_GT(r.malformed, 0u);
  EXPECT_GT(r.applied(), 0u);
  for (const auto& [line, why] : r.malformed_samples)
    expect_printable(why);
  auto check = machine->check();
  EXPECT_TRUE(check.ok()) << check.problems.front();
}

TEST_F(MalformedTest, ChunkingDoesNotChangeTheResult) {
  std::string trace = "# tracer: nop\n";
  for (uint64_t i = 0; i < 300; ++i) {
    trace += alloc_line(static_cast<int>(i % 3), 0x100000 + i * 8, i % 4,
                        i % 2 ? "GFP_KERNEL" : "GFP_HIGHUSER_MOVABLE|__GFP_COMP");
    if (i % 5 == 0) trace += "garbage \x01\x02\n";
    if (i % 3 == 0)
      trace += free_line(1, 0x100000 + (i / 2) * 8, 0) + batched_line(1, 0x100000 + i);
  }
  auto run = [&](size_t chunk) {
    reboot({});
    for (size_t i = 0; i < trace.size(); i += chunk)
      replayer->feed(trace.substr(i, chunk));
    replayer->finish();
    return std::make_pair(replayer->report().counters(), machine->nr_allocations());
  };
  const auto whole = run(trace.size());
  EXPECT_EQ(run(1), whole);
  EXPECT_EQ(run(13), whole);
  EXPECT_EQ(run(4096), whole);
}

}  // namespace
}  // namespace memd::testing
