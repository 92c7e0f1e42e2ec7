// The replies' JSON, byte for byte as protocol/PROTOCOL.md shows it ("ok"
// first), and the control file's text beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "protocol/reply.h"

namespace memd::protocol {
namespace {

std::string line(const Reply& r) {
  return r.json_line();
}

const AllocationEntry kEntry{7, 0x1f400, 3, "Normal", 0, "Movable"};
const char kEntryJson[] =
    R"({"id":7,"pfn":"0x1f400","order":3,"zone":"Normal","node":0,"migratetype":"Movable"})";

// append_json() writes what nlohmann's dump(-1, ' ', false, replace) writes,
// byte for byte: for values chosen at the edges, then for random trees of
// every kind of value, strings of every byte included.
std::string dumped(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}
std::string appended(const Json& j) {
  std::string out;
  append_json(&out, j);
  return out;
}

TEST(AppendJson, EdgesAreNlohmannsDump) {
  const std::vector<Json> values = {
      nullptr,
      true,
      false,
      0,
      -1,
      std::numeric_limits<int64_t>::min(),
      std::numeric_limits<int64_t>::max(),
      std::numeric_limits<uint64_t>::max(),
      1.5,
      -0.0,
      1e300,
      std::nan(""),
      "",
      "plain",
      "quote\"back\\slash",
      std::string("nul\0byte", 8),
      "\x01\x1f\x7f tab\t nl\n",
      "caf\xc3\xa9",
      "bad \xff\xfe utf-8",
      Json::array(),
      Json::object(),
      Json{{"k\"ey", 1}, {"caf\xc3\xa9", "v"}, {"", Json::array({1, "x", nullptr})}}};
  for (const Json& v : values) {
    EXPECT_EQ(appended(v), dumped(v)) << dumped(v);
  }
}

Json random_json(std::mt19937_64* rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 0 ? 8 : 6);
  auto text = [&] {
    std::string t(static_cast<size_t>((*rng)() % 12), ' ');
    for (char& c : t) {
      // Mostly printable ASCII, sometimes any byte.
      c = static_cast<char>((*rng)() % 4 == 0 ? (*rng)() % 256 : 0x20 + (*rng)() % 0x5f);
    }
    return t;
  };
  switch (kind(*rng)) {
    case 0:
      return nullptr;
    case 1:
      return (*rng)() % 2 == 0;
    case 2:
      return static_cast<int64_t>((*rng)());
    case 3:
      return static_cast<uint64_t>((*rng)());
    case 4:
      return static_cast<double>(static_cast<int64_t>((*rng)())) / 977.0;
    case 5:
    case 6:
      return text();
    case 7: {
      Json a = Json::array();
      for (uint64_t n = (*rng)() % 5; n > 0; --n)
        a.push_back(random_json(rng, depth - 1));
      return a;
    }
    default: {
      Json o = Json::object();
      for (uint64_t n = (*rng)() % 5; n > 0; --n)
        o[text()] = random_json(rng, depth - 1);
      return o;
    }
  }
}

TEST(AppendJson, RandomTreesAreNlohmannsDump) {
  std::mt19937_64 rng(20261207);
  for (int i = 0; i < 2000; ++i) {
    const Json j = random_json(&rng, 4);
    ASSERT_EQ(appended(j), dumped(j)) << "tree " << i;
  }
}

TEST(Reply, Allocations) {
  Reply r = alloc_reply({kEntry}, nullptr, false);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(line(r), std::string(R"({"ok":true,"allocations":[)") + kEntryJson + "]}\n");
  EXPECT_EQ(r.text, "id=7 pfn=0x1f400 order=3 zone=Normal node=0 migratetype=Movable\n");
}

// The socket's direct line for a successful alloc is PROTOCOL.md's bytes
// (written out here) and alloc_reply's own line, for none, one and several
// allocations, negative nodes and 64-bit ids and pfns included.
TEST(Reply, AllocLineIsAllocReplysLine) {
  std::string out = "before\n";
  append_alloc_line(&out, {kEntry});
  EXPECT_EQ(out, std::string("before\n") + R"({"ok":true,"allocations":[)" + kEntryJson + "]}\n");
  const std::vector<std::vector<AllocationEntry>> cases = {
      {},
      {kEntry},
      {kEntry, {8, 0, 0, "DMA", -1, "Unmovable"}},
      {{UINT64_MAX, UINT64_MAX, 10, "DMA32", 1023, "Reclaimable"},
       {0, 0x10, 1, "Movable", 3, "HighAtomic"},
       {9, 0xfffff, 2, "Normal", -2147483647 - 1, "Isolate"}},
  };
  for (const auto& made : cases) {
    std::string direct;
    append_alloc_line(&direct, made);
    EXPECT_EQ(direct, alloc_reply(made, nullptr, made.size() > 1).json_line());
  }
}

TEST(Reply, AllocationsListing) {
  const AllocationEntry second{9, 0x40000, 0, "Movable", 0, "Movable"};
  Reply r = allocations_reply({kEntry, second}, 5);
  EXPECT_EQ(line(r), std::string(R"({"ok":true,"allocations":[)") + kEntryJson +
                         R"(,{"id":9,"pfn":"0x40000","order":0,"zone":"Movable","node":0,)"
                         R"("migratetype":"Movable"}],"count":2,"matched":5})"
                         "\n");
  EXPECT_EQ(r.text,
            "id=7 pfn=0x1f400 order=3 zone=Normal node=0 migratetype=Movable\n"
            "id=9 pfn=0x40000 order=0 zone=Movable node=0 migratetype=Movable\n"
            "2 of 5 allocations\n"
            "the next ones: allocations after=9 (with the same keys)\n");
  EXPECT_EQ(line(allocations_reply({}, 0)), R"({"ok":true,"allocations":[],"count":0,"matched":0})"
                                            "\n");
  EXPECT_EQ(allocations_reply({}, 0).text, "0 of 0 allocations\n");
}

TEST(Reply, AllocationFailure) {
  const std::string why =
      "page allocation failure: order:3, mode:0xcc0(GFP_KERNEL), nodemask=(null)";
  Reply one = alloc_reply({}, &why, false);
  EXPECT_EQ(one.failure, Failure::kAllocFailed);
  EXPECT_EQ(line(one), R"({"ok":false,"error":")" + why +
                           R"(","failure":"alloc_failed"})"
                           "\n");
  EXPECT_EQ(one.text, "error: " + why + "\n");
  // count=N > 1: the ones made before the failure come along.
  Reply several = alloc_reply({kEntry}, &why, true);
  EXPECT_EQ(line(several), R"({"ok":false,"error":")" + why +
                               R"(","failure":"alloc_failed","allocations":[)" + kEntryJson +
                               "]}\n");
  EXPECT_EQ(several.error_message(), why);
}

TEST(Reply, Free) {
  EXPECT_EQ(line(free_reply({kEntry, kEntry})), std::string(R"({"ok":true,"freed":[)") +
                                                    kEntryJson + "," + kEntryJson +
                                                    R"(],"count":2})" + "\n");
  EXPECT_EQ(free_reply({kEntry}).text,
            "freed id=7 pfn=0x1f400 order=3 zone=Normal node=0 migratetype=Movable\n");
  EXPECT_EQ(line(free_all_reply(12)), "{\"ok\":true,\"count\":12}\n");
  EXPECT_EQ(free_all_reply(12).text, "freed 12 allocations\n");
}

TEST(Reply, Sysctl) {
  Reply r = sysctl_reply({{"min_free_kbytes", "67584"},
                          {"lowmem_reserve_ratio", "256\t256\t32\t0\t0"},
                          {"odd", "a b"}});
  EXPECT_EQ(
      line(r),
      R"({"ok":true,"sysctl":{"min_free_kbytes":67584,"lowmem_reserve_ratio":[256,256,32,0,0],"odd":"a b"}})"
      "\n");
  EXPECT_EQ(
      r.text,
      "vm.min_free_kbytes = 67584\nvm.lowmem_reserve_ratio = 256\t256\t32\t0\t0\nvm.odd = a b\n");
}

TEST(Reply, Trace) {
  Reply r = trace_reply({{"mm_page_alloc", "mm_page_alloc_extfrag"}, 1410, 12, 3});
  EXPECT_EQ(line(r), R"({"ok":true,"trace":{"events":["mm_page_alloc","mm_page_alloc_extfrag"],)"
                     R"("buffer_size_kb":1410,"entries":12,"overrun":3}})"
                     "\n");
  EXPECT_EQ(r.text,
            "events on: mm_page_alloc mm_page_alloc_extfrag\nbuffer_size_kb: 1410\n"
            "entries-in-buffer/entries-written: 12/15\n");
  EXPECT_EQ(trace_reply({}).text,
            "events on: none\nbuffer_size_kb: 0\nentries-in-buffer/entries-written: 0/0\n");
}

TEST(Reply, TextResetCheck) {
  EXPECT_EQ(line(text_reply("Node 0, zone DMA 1\n")),
            "{\"ok\":true,\"text\":\"Node 0, zone DMA 1\\n\"}\n");
  EXPECT_EQ(line(reset_reply("x86_64, 512 MiB in 1 node, 2 CPUs")),
            R"({"ok":true,"machine":"x86_64, 512 MiB in 1 node, 2 CPUs"})"
            "\n");
  EXPECT_EQ(line(check_reply({})), "{\"ok\":true,\"problems\":[]}\n");
  Reply bad = check_reply({"p1", "p2"});
  EXPECT_EQ(bad.failure, Failure::kCheckFailed);
  EXPECT_EQ(
      line(bad),
      R"({"ok":false,"error":"check: 2 problems: p1","failure":"check_failed","problems":["p1","p2"]})"
      "\n");
  EXPECT_EQ(bad.text, "error: check: 2 problems: p1\np1\np2\n");
}

TEST(Reply, Status) {
  MachineStatus s;
  s.shape = machine_shape("x86_64", 4095, 1, 2);
  s.arch = "x86_64";
  s.nodes = 1;
  s.cpus = 2;
  s.cmdline = "kernelcore=1G";
  s.zones = {{0, "DMA", 0, 4096, 3998, 3840, 3840}};
  s.live_allocations = 3;
  s.pgalloc = 10;
  s.pgfree = 7;
  s.free_pages = 3840;
  s.pid = 1234;
  EXPECT_EQ(s.shape, "x86_64, 4095 MiB in 1 node, 2 CPUs");
  EXPECT_EQ(line(status_reply(s)),
            R"({"ok":true,"machine":{"shape":"x86_64, 4095 MiB in 1 node, 2 CPUs","arch":"x86_64",)"
            R"("nodes":1,"cpus":2,"cmdline":"kernelcore=1G","zones":[{"node":0,"zone":"DMA",)"
            R"("start_pfn":0,"spanned":4096,"present":3998,"managed":3840,"free":3840}]},)"
            R"("live_allocations":3,"counters":{"pgalloc":10,"pgfree":7,"free_pages":3840,)"
            R"("extfrag_claims":0,"extfrag_steals":0},"replaying":false,"pid":1234})"
            "\n");
  EXPECT_EQ(machine_shape("i386", 1, 2, 1), "i386, 1 MiB in 2 nodes, 1 CPU");
}

TEST(Reply, Replay) {
  ReplaySummary report{{{"lines", 3}, {"alloc_events", 1}}, {{2, "no pfn="}}};
  EXPECT_EQ(
      line(report_reply(report)),
      R"({"ok":true,"report":{"lines":3,"alloc_events":1,"malformed":[{"line":2,"reason":"no pfn="}]}})"
      "\n");
  EXPECT_EQ(report_reply(report).text, "lines: 3\nalloc_events: 1\nmalformed line 2: no pfn=\n");
  EXPECT_EQ(
      line(replay_aborted_reply(report, 3)),
      R"({"ok":true,"report":{"lines":3,"alloc_events":1,"malformed":[{"line":2,"reason":"no pfn="}]},"lines":3,"aborted":true})"
      "\n");
  EXPECT_EQ(line(replay_started_reply()), "{\"ok\":true}\n");
  EXPECT_EQ(line(replay_frame_reply(42)), "{\"ok\":true,\"lines\":42}\n");
}

TEST(Reply, ReplayHistory) {
  Reply r = replay_frame_reply(42);
  add_history(&r, "1000,0,DMA,3840\n");
  EXPECT_EQ(line(r), "{\"ok\":true,\"lines\":42,\"history\":\"1000,0,DMA,3840\\n\"}\n");
  r = replay_started_reply();
  add_history(&r, "");
  EXPECT_EQ(line(r), "{\"ok\":true,\"history\":\"\"}\n");
}

// memctl replay and memd --replay print this.
TEST(Reply, ReplayReportText) {
  ReplaySummary report{{{"lines", 3}, {"emulator_extfrag_claims", 12}}, {{2, "no pfn=\nat all"}}};
  EXPECT_EQ(report_text(report_reply(report).json["report"]),
            "  lines                             3\n"
            "  emulator_extfrag_claims          12\n"
            "malformed or refused lines (the first 1):\n"
            "  line 2: no pfn= at all\n");
  // Skipped batched frees are said to be duplicates; failed allocations name their first line.
  ReplaySummary twice{
      {{"lines", 9}, {"failed_allocs", 2}, {"first_failed_alloc_line", 7}, {"skipped_batched", 4}},
      {}};
  EXPECT_EQ(report_text(report_reply(twice).json["report"]),
            "  lines                             9\n"
            "  failed_allocs                     2\n"
            "  first_failed_alloc_line           7\n"
            "  skipped_batched                   4\n"
            "skipped_batched: 4 mm_page_free_batched lines repeat the mm_page_free of the same "
            "page just before them (the kernel traces both for one free): duplicates, not lost "
            "data\n"
            "failed_allocs: 2 allocations of the trace failed on the emulated machine, the first "
            "at line 7\n");
  EXPECT_EQ(report_text(Json::array({1})), "[\n  1\n]\n");
  EXPECT_EQ(replay_headline({"t.gz", 300000, 0.284, false, false}),
            "replayed t.gz: 300000 lines in 0.28 s\n");
  EXPECT_EQ(replay_headline({"t.gz", 1200, 1.5, true, false}),
            "replay of t.gz interrupted after 1200 lines in 1.50 s\n");
  EXPECT_EQ(replay_headline({"t.3", 300000, 0.1, false, true}),
            "replayed t.3, continuing the previous replay: 300000 lines in all, this part in "
            "0.10 s\n");
}

TEST(Reply, Snapshots) {
  Reply saved = snapshot_saved_reply(std::make_shared<const std::string>("12345"), 324);
  EXPECT_EQ(line(saved), "{\"ok\":true,\"bytes\":5,\"allocations\":324}\n");
  ASSERT_TRUE(saved.payload);
  EXPECT_EQ(*saved.payload, "12345");
  EXPECT_EQ(line(snapshot_admitted_reply()), "{\"ok\":true}\n");
  EXPECT_EQ(line(snapshot_loaded_reply("x86_64, 512 MiB in 1 node, 2 CPUs", 324)),
            R"({"ok":true,"machine":"x86_64, 512 MiB in 1 node, 2 CPUs","allocations":324})"
            "\n");
}

TEST(Reply, Errors) {
  Reply r = bad_input("alloc: missing gfp=");
  EXPECT_EQ(r.failure, Failure::kBadInput);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(line(r),
            "{\"ok\":false,\"error\":\"alloc: missing gfp=\",\"failure\":\"bad_input\"}\n");
  EXPECT_EQ(r.text, "error: alloc: missing gfp=\n");
  // Bytes a client sent that are not UTF-8 are replaced, never thrown.
  EXPECT_EQ(line(Reply::error(Failure::kBusy, "bad \xff byte")),
            "{\"ok\":false,\"error\":\"bad \xef\xbf\xbd byte\",\"failure\":\"busy\"}\n");
}

// Each kind of failure has its name in the socket's replies ("failure"),
// which memctl reads back to choose its exit status.
TEST(Reply, MemoryBlockChanges) {
  MemoryBlockChange off;
  off.block = 14;
  off.zone = "Movable";
  off.pages = 32768;
  off.migrated = 3;
  off.migrated_pages = 10;
  off.message = "Offlined Pages 32768";
  const Reply r = memory_reply(off);
  EXPECT_EQ(r.json_line(),
            R"({"ok":true,"block":14,"state":"offline","zone":"Movable","pages":32768,)"
            R"("migrated":3,"migrated_pages":10,"message":"Offlined Pages 32768"})"
            "\n");
  EXPECT_EQ(r.text,
            "memory14: offline (from Movable): Offlined Pages 32768; 3 allocations (10 pages) "
            "migrated\n");
  MemoryBlockChange on = off;
  on.offline = false;
  on.zone = "Normal";
  on.message = "Onlined Pages 32768";
  EXPECT_EQ(memory_reply(on).json_line(),
            R"({"ok":true,"block":14,"state":"online","zone":"Normal","pages":32768,)"
            R"("message":"Onlined Pages 32768"})"
            "\n");
  EXPECT_EQ(memory_reply(on).text, "memory14: online in Normal: Onlined Pages 32768\n");
}

TEST(Reply, FailureNames) {
  const std::vector<std::pair<Failure, std::string>> names = {
      {Failure::kBadInput, "bad_input"},
      {Failure::kAllocFailed, "alloc_failed"},
      {Failure::kBusy, "busy"},
      {Failure::kDenied, "denied"},
      {Failure::kCheckFailed, "check_failed"},
      {Failure::kIo, "io"},
      {Failure::kInternal, "internal"},
      {Failure::kNotATrace, "not_a_trace"},
      {Failure::kInterrupted, "interrupted"},
  };
  for (const auto& [failure, name] : names) {
    EXPECT_EQ(failure_name(failure), name);
    EXPECT_EQ(failure_named(name), failure);
    EXPECT_EQ(Reply::error(failure, "why").json_line(),
              R"({"ok":false,"error":"why","failure":")" + name + "\"}\n");
  }
  EXPECT_EQ(failure_named("frobbed"), Failure::kNone);
  EXPECT_EQ(failure_named("none"), Failure::kNone);
}

}  // namespace
}  // namespace memd::protocol
