// The kmem tracepoints (core/kmem_trace.h) and the trace ring buffer
// (core/trace_buffer.h): lines against a real 6.18 kernel's trace file
// (tests/reference/trace-6.18/trace-excerpt.txt, from this machine's tracefs),
// buffer sizes as the kernel's buffer_size_kb file reads them back, overrun
// and "CPU:N [LOST M EVENTS]", the events the allocator emits and the kernel
// context they carry, and the round trip: a trace memd writes replays to the
// same machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "core/render.h"
#include "core/trace_buffer.h"
#include "core/trace_line.h"
#include "tests/core/machines.h"
#include "tests/replay/replay_helpers.h"

namespace memd::testing {
namespace {

std::vector<std::string> excerpt_lines() {
  std::ifstream in(MEMD_PROJECT_REFERENCE_DIR "/trace-6.18/trace-excerpt.txt");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  return lines;
}

// The record a kernel line describes, read with the replay's line parser.
KmemRecord record_of(const std::string& line, std::string* comm) {
  trace_line::EventHead head;
  EXPECT_TRUE(trace_line::match_event(line, &head)) << line;
  KmemRecord r;
  std::string_view c;
  trace_line::parse_task(head.task, &c, &r.pid);
  *comm = std::string(c);
  r.cpu = static_cast<uint16_t>(head.cpu);
  r.ts_ns = trace_line::timestamp_ns(head.timestamp);
  r.event = *kmem_event_by_name(head.name);
  const std::string flags = line.substr(line.find("] ") + 2, 5);
  r.irqs_off = flags[0] == 'd';
  r.preempt_depth = flags[3] == '.' ? 0 : static_cast<uint8_t>(flags[3] - '0');
  std::map<std::string, std::string> f;
  std::istringstream fields(std::string(head.fields.p, head.fields.end));
  for (std::string kv; fields >> kv;)
    f[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  r.pfn = std::stoull(f["pfn"], nullptr, 16);
  r.order = static_cast<uint32_t>(std::stoul(f["order"]));
  if (f.count("migratetype")) r.migratetype = std::stoi(f["migratetype"]);
  if (f.count("percpu_refill")) r.arg = std::stoi(f["percpu_refill"]);
  if (f.count("gfp_flags")) r.gfp_flags = *parse_gfp(f["gfp_flags"]);
  return r;
}

// The kernel's line with its hashed page= pointer replaced by the pointer a
// no_hash_pointers kernel prints: vmemmap (0xffffea0000000000) + pfn * 64.
std::string unhashed(std::string line, uint64_t pfn) {
  const size_t at = line.find("page=") + 5;
  char ptr[17];
  std::snprintf(ptr, sizeof ptr, "%016llx",
                static_cast<unsigned long long>(0xffffea0000000000ULL + pfn * 64));
  return line.replace(at, 16, ptr);
}

TEST(KmemTrace, LinesAreTheKernels) {
  const auto lines = excerpt_lines();
  ASSERT_EQ(lines.size(), 18u);
  for (size_t i = 12; i < lines.size(); ++i) {
    std::string comm;
    const KmemRecord r = record_of(lines[i], &comm);
    TraceBuffer tb(2);
    tb.set_mask(kAllKmemEvents);
    tb.set_task(comm, r.pid, r.ts_ns);
    EXPECT_EQ(tb.format_line(r), unhashed(lines[i], r.pfn) + "\n");
  }
}

TEST(KmemTrace, HeaderIsTheKernels) {
  const auto lines = excerpt_lines();
  std::string header;
  for (size_t i = 0; i < 12; ++i)
    header += lines[i] + "\n";
  // The capture's counts, replaced by an empty buffer's.
  header.replace(header.find("101189/2094589"), 14, "0/0");
  EXPECT_EQ(TraceBuffer(2).render_trace(), header);
}

TEST(KmemTrace, FieldsOfEveryEvent) {
  KmemRecord r;
  r.pfn = 0x1000;
  r.event = KmemEvent::kMmPageAlloc;
  r.order = 3;
  r.migratetype = 1;
  r.gfp_flags = 0x140cca;  // GFP_HIGHUSER_MOVABLE|__GFP_COMP
  EXPECT_EQ(TraceBuffer::format_fields(r),
            "page=ffffea0000040000 pfn=0x1000 order=3 migratetype=1 "
            "gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP");
  r.pfn = kNoPagePfn;  // a failed allocation: NULL and 0, as TP_printk's conditionals print
  r.gfp_flags = 0;
  EXPECT_EQ(TraceBuffer::format_fields(r),
            "page=0000000000000000 pfn=0x0 order=3 migratetype=1 gfp_flags=none");
  r.pfn = 0x1200;
  r.event = KmemEvent::kMmPageFreeBatched;
  EXPECT_EQ(TraceBuffer::format_fields(r), "page=ffffea0000048000 pfn=0x1200 order=0");
  r.event = KmemEvent::kMmPageAllocExtfrag;
  r.order = 0;
  r.arg = 9;  // fallback_order
  r.migratetype = 0;
  r.fallback_migratetype = 1;
  r.change_ownership = true;
  EXPECT_EQ(TraceBuffer::format_fields(r),
            "page=ffffea0000048000 pfn=0x1200 alloc_order=0 fallback_order=9 pageblock_order=9 "
            "alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1");
  r.arg = 2;
  r.change_ownership = false;
  EXPECT_EQ(TraceBuffer::format_fields(r),
            "page=ffffea0000048000 pfn=0x1200 alloc_order=0 fallback_order=2 pageblock_order=9 "
            "alloc_migratetype=0 fallback_migratetype=1 fragmenting=1 change_ownership=0");
}

// What this machine's 6.18 kernel read back from buffer_size_kb after
// `echo N > buffer_size_kb`: 1 -> 7, 100 -> 103, 1408 -> 1410 (DIV_ROUND_UP(N
// KiB, 4080) pages of 4080 bytes, at least 2); 0 fails with EINVAL.
TEST(KmemTrace, BufferSizeKbReadsBackAsTheKernels) {
  TraceBuffer tb(2);
  EXPECT_EQ(tb.buffer_size_kb(), 1410u);  // the default, trace_buf_size 1441792
  ASSERT_TRUE(tb.set_buffer_size_kb(1).ok());
  EXPECT_EQ(tb.buffer_size_kb(), 7u);
  ASSERT_TRUE(tb.set_buffer_size_kb(100).ok());
  EXPECT_EQ(tb.buffer_size_kb(), 103u);
  ASSERT_TRUE(tb.set_buffer_size_kb(1408).ok());
  EXPECT_EQ(tb.buffer_size_kb(), 1410u);
  EXPECT_FALSE(tb.set_buffer_size_kb(0).ok());
  EXPECT_FALSE(tb.set_buffer_size_kb(uint64_t{1} << 40).ok());
  EXPECT_FALSE(tb.set_buffer_size_kb(8193).ok());  // 16 MiB in all at most
  EXPECT_TRUE(tb.set_buffer_size_kb(8192).ok());
  EXPECT_EQ(tb.buffer_size_kb(), 8195u);
  EXPECT_TRUE(TraceBuffer(1024).set_buffer_size_kb(1408).ok());  // the default, on any machine
  EXPECT_FALSE(TraceBuffer(1024).set_buffer_size_kb(1409).ok());
  ASSERT_TRUE(tb.set_buffer_size_kb(1408).ok());
  EXPECT_EQ(tb.buffer_size_kb(), 1410u);  // refusals change nothing
}

KmemRecord free_record(uint64_t pfn, uint16_t cpu = 0) {
  KmemRecord r;
  r.event = KmemEvent::kMmPageFree;
  r.pfn = pfn;
  r.cpu = cpu;
  return r;
}

// 2 pages of 4080 bytes; mm_page_free takes 28 (24 + the 4-byte header):
// 145 to a page. The 291st event starts a third page, so the first goes.
TEST(KmemTrace, FullBufferDropsItsOldestPage) {
  TraceBuffer tb(2);
  tb.set_mask(kAllKmemEvents);
  ASSERT_TRUE(tb.set_buffer_size_kb(1).ok());
  tb.set_task("memctl", 42, 1000);
  for (uint64_t i = 0; i < 290; ++i)
    tb.record(free_record(i));
  EXPECT_EQ(tb.entries(), 290u);
  EXPECT_EQ(tb.overrun(), 0u);
  tb.record(free_record(290));
  EXPECT_EQ(tb.entries(), 146u);
  EXPECT_EQ(tb.overrun(), 145u);
  EXPECT_NE(tb.render_trace().find("# entries-in-buffer/entries-written: 146/291   #P:2\n"),
            std::string::npos);
  const std::string first = tb.consume(1 << 20);
  EXPECT_EQ(first.substr(0, first.find('\n') + 1), "CPU:0 [LOST 145 EVENTS]\n");
  EXPECT_NE(first.find("pfn=0x91 order=0\n"), std::string::npos);  // 145, the oldest left
  EXPECT_EQ(first.find("pfn=0x90 "), std::string::npos);
  EXPECT_TRUE(tb.empty());
  EXPECT_EQ(tb.consume(1 << 20), "");
  tb.record(free_record(7));  // no new loss: no LOST line
  EXPECT_EQ(tb.consume(1 << 20).substr(0, 4), "    ");
}

// An event 2^27 ns or more after the previous one on its CPU carries an
// 8-byte time extend: 144 such events fill what 145 plain ones would.
TEST(KmemTrace, LongGapsTakeATimeExtend) {
  TraceBuffer tb(1);
  tb.set_mask(kAllKmemEvents);
  ASSERT_TRUE(tb.set_buffer_size_kb(1).ok());
  uint64_t ts = 0;
  for (uint64_t i = 0; i < 265; ++i) {
    tb.set_task("t", 1, ts);
    ts += uint64_t{1} << 27;
    tb.record(free_record(i));
  }
  // Page 1 holds 1 event of 28 bytes and 112 of 36 (4060); the 114th starts page 2.
  // Page 2 holds the same: 226 in two pages; the 227th drops page 1.
  EXPECT_EQ(tb.entries(), 265u - 113u);
  EXPECT_EQ(tb.overrun(), 113u);
}

TEST(KmemTrace, ShortReadsGetTheRestOfTheLine) {
  TraceBuffer tb(1);
  tb.set_mask(kAllKmemEvents);
  tb.set_task("memctl", 42, 0);
  tb.record(free_record(1));
  const std::string line = TraceBuffer(1).format_line(free_record(1));
  std::string got = tb.consume(10);
  EXPECT_EQ(got.size(), 10u);
  got += tb.consume(1 << 20);
  EXPECT_NE(got.find("memctl-42"), std::string::npos);
  EXPECT_EQ(got.substr(got.find("mm_page_free")), line.substr(line.find("mm_page_free")));
  EXPECT_TRUE(tb.empty());
}

// Reads of any size see every line once, in order: what one read cannot
// take starts the next.
TEST(KmemTrace, ReadsOfAnySizeSeeEveryLineOnce) {
  for (size_t size : {1, 7, 100, 150, 333, 4096, 65536}) {
    TraceBuffer one(2), many(2);
    for (TraceBuffer* tb : {&one, &many}) {
      tb->set_mask(kAllKmemEvents);
      for (uint64_t i = 0; i < 500; ++i) {
        tb->set_task(i % 3 ? "memctl" : "a-much-longer-comm-name", static_cast<int32_t>(i % 5),
                     i * 1000);
        tb->record(free_record(i, static_cast<uint16_t>(i % 2)));
      }
    }
    const std::string whole = one.consume(size_t{1} << 30);
    std::string pieces;
    for (std::string got = many.consume(size); !got.empty(); got = many.consume(size)) {
      ASSERT_LE(got.size(), size);
      if (size >= 150) {
        ASSERT_EQ(got.back(), '\n') << "whole lines when a line fits";
      }
      pieces += got;
    }
    EXPECT_EQ(pieces, whole) << size;
    EXPECT_EQ(std::count(whole.begin(), whole.end(), '\n'), 500);
  }
}

// --- the allocator's tracepoints ---------------------------------------------------------------

struct Traced {
  std::unique_ptr<Machine> m;
  TraceBuffer tb;
  explicit Traced(const MachineConfig& cfg) : m(boot(cfg)), tb(m->nr_cpus()) {
    tb.set_mask(kAllKmemEvents);
    EXPECT_TRUE(tb.set_buffer_size_kb(4096).ok());
    tb.set_task("memctl", 42, 1'000'000'000);
    m->set_tracer(&tb);
  }
  std::vector<std::string> lines() { return split(tb.consume(size_t{1} << 30)); }
  static std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      out.push_back(l);
    return out;
  }
};

bool has(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

// An order-0 movable allocation on an empty pcp list: rmqueue_bulk()
// takes `batch` blocks under the zone lock (mm_page_alloc_zone_locked,
// percpu_refill=1, irqs off, pcp trylock + zone lock: "d..3."), then
// __alloc_pages() reports the page it hands out (".....").
TEST(KmemTrace, OrderZeroAllocationRefillsThePcpList) {
  Traced t(test::machines::pc_64m());
  AllocRequest req;
  req.gfp = *parse_gfp("GFP_HIGHUSER_MOVABLE");
  auto a = t.m->alloc(req);
  ASSERT_TRUE(a.ok());
  const auto lines = t.lines();
  ASSERT_GE(lines.size(), 2u);
  const std::string& last = lines.back();
  EXPECT_EQ(last, "          memctl-42      [000] .....     1.000000: mm_page_alloc: page=" +
                      unhashed("page=0000000000000000", a->pfn).substr(5) + " pfn=" + hex(a->pfn) +
                      " order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE");
  std::set<std::string> refilled;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_TRUE(has(lines[i], "[000] d..3.     1.000000: mm_page_alloc_zone_locked: ")) << lines[i];
    EXPECT_TRUE(has(lines[i], " order=0 migratetype=1 percpu_refill=1")) << lines[i];
    refilled.insert(lines[i].substr(lines[i].find("pfn=")));
  }
  EXPECT_EQ(refilled.size(), lines.size() - 1);  // distinct blocks
  EXPECT_TRUE(refilled.count("pfn=" + hex(a->pfn) + " order=0 migratetype=1 percpu_refill=1"));
  // The rest wait on the pcp list.
  EXPECT_EQ(t.m->stats().nodes[0].zones[1].pcp[0].count, static_cast<int>(lines.size()) - 2);
}

// A free of an order the pcp lists take: free_pages_prepare()'s
// mm_page_free, then, once the list is over `high`, free_pcppages_bulk()'s
// mm_page_pcpu_drain for each block it gives back ("d..3.").
TEST(KmemTrace, FreesDrainThePcpListOverHigh) {
  Traced t(test::machines::pc_64m());
  AllocRequest req;
  req.gfp = *parse_gfp("GFP_KERNEL");
  std::vector<Pfn> pfns;
  for (int i = 0; i < 2000; ++i)
    pfns.push_back(t.m->alloc(req)->pfn);
  t.lines();
  const int before = t.m->stats().nodes[0].zones[1].pcp[0].count;
  uint64_t frees = 0, drains = 0;
  for (Pfn p : pfns) {
    ASSERT_TRUE(t.m->free_pfn(p).ok());
    for (const std::string& l : t.lines()) {
      if (has(l, "mm_page_free: ")) {
        EXPECT_TRUE(has(l, "[000] .....     1.000000: mm_page_free: page=")) << l;
        EXPECT_TRUE(has(l, "pfn=" + hex(p) + " order=0")) << l;
        ++frees;
      } else {
        EXPECT_TRUE(has(l, "[000] d..3.     1.000000: mm_page_pcpu_drain: page=")) << l;
        EXPECT_TRUE(has(l, " order=0 migratetype=0")) << l;
        ++drains;
      }
    }
  }
  EXPECT_EQ(frees, 2000u);
  EXPECT_GT(drains, 0u);
  // Every page freed or waiting before is on the pcp list or was drained.
  EXPECT_EQ(static_cast<int>(drains), 2000 + before - t.m->stats().nodes[0].zones[1].pcp[0].count);
}

TEST(KmemTrace, AFailedAllocationTracesNoPage) {
  Traced t(test::machines::pc_64m());
  AllocRequest req;
  req.order = 10;
  req.gfp = *parse_gfp("GFP_KERNEL|__GFP_NOWARN");
  while (t.m->alloc(req).ok()) {
  }
  const auto lines = t.lines();
  EXPECT_EQ(lines.back(),
            "          memctl-42      [000] .....     1.000000: mm_page_alloc: "
            "page=0000000000000000 pfn=0x0 order=10 migratetype=0 "
            "gfp_flags=GFP_KERNEL|__GFP_NOWARN");
}

TEST(KmemTrace, EventsOffRecordNothing) {
  Traced t(test::machines::pc_64m());
  t.tb.set_mask(kmem_event_bit(KmemEvent::kMmPageAllocExtfrag));
  AllocRequest req;
  req.gfp = *parse_gfp("GFP_HIGHUSER_MOVABLE");  // no fallback on a fresh machine
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(t.m->alloc(req).ok());
  EXPECT_TRUE(t.tb.empty());
}

// Tracing observes: the same requests give the same machine, pfn for pfn,
// with every event on or none, and the invariants hold after every step.
TEST(KmemTrace, TracingChangesNothing) {
  const MachineConfig cfg = test::machines::two_nodes();
  auto plain = boot(cfg);
  Traced traced(cfg);
  std::mt19937 rng(7);
  std::vector<Pfn> live;
  for (int step = 0; step < 4000; ++step) {
    if (!live.empty() && rng() % 3 == 0) {
      const size_t i = rng() % live.size();
      const int cpu = static_cast<int>(rng() % plain->nr_cpus());
      ASSERT_EQ(plain->free_pfn(live[i], cpu).ok(), traced.m->free_pfn(live[i], cpu).ok());
      live.erase(live.begin() + static_cast<long>(i));
    } else {
      AllocRequest req;
      req.order = rng() % 4 == 0 ? rng() % 11 : 0;
      req.gfp = (rng() % 2 ? gfp::kKernel : gfp::kHighuserMovable) | gfp::kNowarn;
      req.cpu = static_cast<int>(rng() % plain->nr_cpus());
      auto a = plain->alloc(req);
      auto b = traced.m->alloc(req);
      ASSERT_EQ(a.ok(), b.ok());
      if (a) {
        ASSERT_EQ(a->pfn, b->pfn);
        live.push_back(a->pfn);
      }
    }
    if (step % 64 == 0) traced.tb.consume(size_t{1} << 30);
    ASSERT_TRUE(traced.m->check().ok()) << "step " << step;
  }
  EXPECT_EQ(plain->save_state(), traced.m->save_state());
}

// --- the sample trace and the round trip -----------------------------------------------------

// Every mm_page_alloc_extfrag line memd writes while replaying the sample
// trace is one of the emulator's fallbacks the replay report counts, with the
// same fields.
TEST(KmemTrace, ExtfragLinesOfTheSampleReplayAreTheReportsCounts) {
  const std::string text = read_gz(MEMD_TRACES_DIR "/build-sample.trace.gz");
  ASSERT_FALSE(text.empty());
  auto m = boot();
  TraceBuffer tb(m->nr_cpus());
  tb.set_mask(kmem_event_bit(KmemEvent::kMmPageAllocExtfrag));
  m->set_tracer(&tb);
  Replayer replayer(m.get());
  ExtfragCounts written;
  std::string lines;
  for (size_t i = 0; i < text.size(); i += 256 << 10) {
    replayer.feed(std::string_view(text).substr(i, 256 << 10));
    lines += tb.consume(size_t{1} << 30);  // drained as a reader would, nothing lost
  }
  replayer.finish();
  lines += tb.consume(size_t{1} << 30);
  // Read back with the replay's own parser of extfrag lines.
  auto check = boot();
  Replayer reader(check.get());
  reader.feed(lines);
  reader.finish();
  const ReplayReport& r = replayer.report();
  EXPECT_GT(r.emulator_extfrag.events, 0u);
  EXPECT_EQ(reader.report().malformed, 0u);
  EXPECT_EQ(reader.report().trace_extfrag.events, r.emulator_extfrag.events);
  EXPECT_EQ(reader.report().trace_extfrag.claims, r.emulator_extfrag.claims);
  EXPECT_EQ(reader.report().trace_extfrag.steals, r.emulator_extfrag.steals);
  EXPECT_EQ(reader.report().trace_extfrag.by_kind, r.emulator_extfrag.by_kind);
  // The tasks and times are the trace's own.
  EXPECT_TRUE(has(lines, "-")) << lines.substr(0, 200);
}

std::string files(const Machine& m) {
  const MachineStats s = m.stats();
  return render_buddyinfo(s) + render_pagetypeinfo(s) + render_zoneinfo(s);
}

// A random workload on a traced machine: its trace replayed on a fresh
// machine of the same configuration gives the same buddyinfo, pagetypeinfo
// and zoneinfo. Allocations that fail are left out of the workload (the
// replay skips pfn=0x0, and a failure can change the machine: drained pcp
// lists, unreserved highatomic blocks).
TEST(KmemTrace, RoundTripOfARandomWorkload) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    const MachineConfig cfg = test::machines::two_nodes();
    Traced t(cfg);
    std::mt19937 rng(seed);
    const char* gfps[] = {"GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE",
                          "GFP_ATOMIC", "GFP_DMA32"};
    std::vector<Pfn> live;
    std::string trace;
    for (int step = 0; step < 2000; ++step) {
      t.tb.set_task(step % 2 ? "worker" : "memctl", 100 + step % 3, 1'000'000'000ULL + step);
      if (!live.empty() && rng() % 3 == 0) {
        const size_t i = rng() % live.size();
        ASSERT_TRUE(t.m->free_pfn(live[i], static_cast<int>(rng() % t.m->nr_cpus())).ok());
        live.erase(live.begin() + static_cast<long>(i));
      } else {
        AllocRequest req;
        req.order = rng() % 4 == 0 ? rng() % 11 : 0;
        req.gfp = *parse_gfp(gfps[rng() % 5]) | gfp::kNowarn;
        req.cpu = static_cast<int>(rng() % t.m->nr_cpus());
        if (t.m->check_request(req)) continue;
        const std::string before = t.m->save_state();
        auto a = t.m->alloc(req);
        if (!a) {  // leave failures out: back to the state before, trace included
          auto back = Machine::restore_state(cfg, before);
          ASSERT_TRUE(back.ok());
          t.m = std::move(*back);
          t.m->set_tracer(&t.tb);
          t.tb.clear();
          continue;
        }
        live.push_back(a->pfn);
      }
      trace += t.tb.consume(size_t{1} << 30);
      ASSERT_TRUE(t.m->check().ok());
    }
    auto fresh = boot(cfg);
    Replayer replayer(fresh.get());
    replayer.feed(trace);
    replayer.finish();
    EXPECT_EQ(replayer.report().malformed, 0u);
    EXPECT_EQ(replayer.report().failed_allocs, 0u);
    EXPECT_EQ(files(*fresh), files(*t.m)) << "seed " << seed;
  }
}

}  // namespace
}  // namespace memd::testing
