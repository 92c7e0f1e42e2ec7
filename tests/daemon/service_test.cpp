// The Service: every verb's JSON reply shape (product.md), all-or-nothing
// commands, and the replay protocol's state machine.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "core/render.h"
#include "core/replay_history.h"
#include "daemon/service.h"
#include "daemon/trace_reader.h"

namespace memd {
namespace {

using Json = nlohmann::ordered_json;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MachineConfig config;
    config.size = 512ULL << 20;
    auto s = Service::boot(config);
    ASSERT_TRUE(s.ok()) << s.error().message;
    service = std::move(*s);
  }

  Json run(std::string_view line, Client* c = nullptr) {
    Reply r = service->execute(line, c ? c : &root);
    Json j = Json::parse(r.json_line());
    EXPECT_EQ(j["ok"].get<bool>(), r.ok()) << line;
    EXPECT_EQ(j.begin().key(), "ok") << "\"ok\" comes first";
    return j;
  }
  Json ok(std::string_view line, Client* c = nullptr) {
    Json j = run(line, c);
    EXPECT_TRUE(j["ok"].get<bool>()) << line << " -> " << j.dump();
    return j;
  }
  std::string error(std::string_view line, Client* c = nullptr) {
    Json j = run(line, c);
    EXPECT_FALSE(j["ok"].get<bool>()) << line;
    return j.value("error", std::string());
  }
  std::string buddyinfo() { return service->render(ProcFile::kBuddyinfo); }

  std::unique_ptr<Service> service;
  Client root{Client::Origin::kSocket, 0, 0};
};

TEST_F(ServiceTest, AllocReplyShape) {
  Json j = ok("alloc order=3 gfp=GFP_HIGHUSER_MOVABLE");
  ASSERT_EQ(j.size(), 2u);
  ASSERT_EQ(j["allocations"].size(), 1u);
  const Json& a = j["allocations"][0];
  std::vector<std::string> keys;
  for (auto& [k, v] : a.items())
    keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "pfn", "order", "zone", "node", "migratetype"}));
  EXPECT_TRUE(a["id"].is_number_unsigned());
  EXPECT_EQ(a["pfn"].get<std::string>().substr(0, 2), "0x");
  EXPECT_EQ(a["order"], 3);
  EXPECT_EQ(a["node"], 0);
  EXPECT_EQ(a["migratetype"], "Movable");
  EXPECT_EQ(ok("alloc order=0 gfp=GFP_KERNEL count=5")["allocations"].size(), 5u);
  EXPECT_EQ(ok("status")["live_allocations"], 6);
}

// The socket's path (run_into: a successful alloc's line written directly)
// says what run() says, byte for byte, on two copies of one machine: for
// allocations that succeed, fail part way, are refused, and other verbs.
TEST_F(ServiceTest, RunIntoWritesWhatRunWrites) {
  auto cloned = service->clone();
  ASSERT_TRUE(cloned.ok()) << cloned.error().message;
  std::unique_ptr<Service> copy = std::move(*cloned);
  std::string direct;
  for (const char* line :
       {"alloc order=3 gfp=GFP_HIGHUSER_MOVABLE", "alloc order=0 gfp=GFP_KERNEL count=3",
        "alloc order=0 gfp=GFP_KERNEL cpu=9", "alloc order=0 gfp=__GFP_MOVABLE|__GFP_RECLAIMABLE",
        "alloc order=10 gfp=GFP_KERNEL|__GFP_NORETRY count=100000", "free id=2",
        "allocations limit=2", "check", "sysctl min_free_kbytes"}) {
    auto command = parse_command(line);
    ASSERT_TRUE(command.ok()) << line;
    const std::string expected = service->run(*command, &root).json_line();
    direct.clear();
    EXPECT_EQ(copy->run_into(*command, &root, &direct), nullptr) << line;
    EXPECT_EQ(direct, expected) << line;
  }
}

// `allocations`: every live allocation where the alloc replies put it, in id
// order; filters narrow the list; names the machine lacks are refused,
// naming what it has.
TEST_F(ServiceTest, AllocationsListsWhereTheyAre) {
  Json made = ok("alloc order=1 gfp=GFP_HIGHUSER_MOVABLE count=2")["allocations"];
  made.push_back(ok("alloc order=0 gfp=GFP_KERNEL|__GFP_DMA")["allocations"][0]);
  Json all = ok("allocations");
  EXPECT_EQ(all["allocations"], made);
  EXPECT_EQ(all["count"], 3);
  EXPECT_EQ(all["matched"], 3);
  Json dma = ok("allocations zone=DMA");
  EXPECT_EQ(dma["allocations"], Json::array({made[2]}));
  Json page = ok("allocations migratetype=Movable limit=1");
  EXPECT_EQ(page["allocations"], Json::array({made[0]}));
  EXPECT_EQ(page["matched"], 2);
  const uint64_t first = made[0]["id"].get<uint64_t>();
  EXPECT_EQ(ok("allocations migratetype=Movable after=" + std::to_string(first))["allocations"],
            Json::array({made[1]}));
  EXPECT_EQ(ok("allocations order=1 node=0")["count"], 2);
  EXPECT_EQ(
      error("allocations zone=Highmem"),
      "allocations: zone=Highmem: the machine's zones are DMA, DMA32, Normal, Movable, Device");
  EXPECT_EQ(error("allocations node=1"), "allocations: node=1: the machine has nodes 0-0");
  EXPECT_EQ(
      error("allocations migratetype=Isolated"),
      "allocations: migratetype=Isolated: one of Unmovable, Movable, Reclaimable, HighAtomic");
}

TEST_F(ServiceTest, AllocFailureCarriesTheWarnAllocLineAndWhatWasMade) {
  Json j = run("alloc order=10 gfp=GFP_KERNEL|__GFP_NORETRY count=100000");
  ASSERT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["error"].get<std::string>().rfind("page allocation failure: order:10, mode:", 0), 0u)
      << j["error"];
  EXPECT_GT(j["allocations"].size(), 10u);
  EXPECT_EQ(ok("status")["live_allocations"], j["allocations"].size());
  EXPECT_EQ(ok("check")["problems"].size(), 0u);
}

TEST_F(ServiceTest, BadAllocLeavesTheMachineAlone) {
  const std::string before = buddyinfo();
  EXPECT_EQ(error("alloc order=0 gfp=GFP_KERNEL cpu=2"), "alloc: cpu=2: the machine has CPUs 0-1");
  EXPECT_EQ(error("alloc order=0 gfp=GFP_KERNEL node=1"),
            "alloc: node=1: the machine has nodes 0-0");
  EXPECT_NE(error("alloc order=0 gfp=__GFP_DMA|__GFP_HIGHMEM").find("GFP_ZONE_BAD"),
            std::string::npos);
  EXPECT_NE(error("alloc order=0 gfp=__GFP_MOVABLE|__GFP_RECLAIMABLE").find("both __GFP_MOVABLE"),
            std::string::npos);
  EXPECT_NE(error("alloc order=0 gfp=GFP_KERNEL bogus=1").find("unknown key 'bogus'"),
            std::string::npos);
  EXPECT_EQ(buddyinfo(), before);
  EXPECT_EQ(ok("status")["live_allocations"], 0);
}

TEST_F(ServiceTest, FreeIsAllOrNothing) {
  Json a = ok("alloc order=2 gfp=GFP_KERNEL count=2")["allocations"];
  const std::string pfn0 = a[0]["pfn"], pfn1 = a[1]["pfn"];
  const uint64_t id0 = a[0]["id"];
  const std::string before = buddyinfo();
  EXPECT_NE(error("free pfn=" + pfn0 + " pfn=0x1").find("pfn=0x1: not the first page"),
            std::string::npos);
  EXPECT_NE(error("free pfn=" + pfn0 + " id=999").find("id=999: no live allocation"),
            std::string::npos);
  EXPECT_NE(error("free pfn=" + pfn0 + " id=" + std::to_string(id0)).find("named twice"),
            std::string::npos);
  EXPECT_NE(error("free pfn=" + pfn0 + " cpu=7").find("cpu=7"), std::string::npos);
  EXPECT_EQ(buddyinfo(), before);
  EXPECT_EQ(ok("status")["live_allocations"], 2);
  Json freed = ok("free pfn=" + pfn0 + " pfn=" + pfn1 + " cpu=1");
  EXPECT_EQ(freed["count"], 2);
  EXPECT_EQ(freed["freed"][1]["pfn"], pfn1);
  EXPECT_NE(error("free pfn=" + pfn0).find("not the first page"), std::string::npos);
  ok("alloc order=0 gfp=GFP_KERNEL count=3");
  EXPECT_EQ(ok("free all")["count"], 3);
  EXPECT_EQ(ok("status")["live_allocations"], 0);
}

TEST_F(ServiceTest, Sysctl) {
  Json all = ok("sysctl")["sysctl"];
  EXPECT_TRUE(all.contains("min_free_kbytes"));
  EXPECT_TRUE(all["lowmem_reserve_ratio"].is_array());
  EXPECT_EQ(ok("sysctl vm.watermark_scale_factor=100")["sysctl"]["watermark_scale_factor"], 100);
  EXPECT_EQ(ok("sysctl watermark_scale_factor")["sysctl"]["watermark_scale_factor"], 100);
  Json ratio = ok("sysctl lowmem_reserve_ratio=\"128 128 16\"")["sysctl"]["lowmem_reserve_ratio"];
  EXPECT_EQ(ratio[0], 128);
  EXPECT_EQ(error("sysctl lowmem_reserve_ratio=1,2"),
            "sysctl: lowmem_reserve_ratio=1,2: '1,2' is not an integer (the kernel reads integers "
            "separated by spaces, tabs or newlines)");
  EXPECT_EQ(ok("sysctl lowmem_reserve_ratio")["sysctl"]["lowmem_reserve_ratio"][0], 128);
  EXPECT_EQ(error("sysctl min_free_kbytes=99999999999999"),
            "sysctl: min_free_kbytes=99999999999999: '99999999999999' is out of range "
            "(0..2147483647)");
  EXPECT_NE(error("sysctl watermark_scale_factor=0").find("watermark_scale_factor"),
            std::string::npos);
  EXPECT_NE(error("sysctl swappiness=10").find("swappiness"), std::string::npos);
  EXPECT_NE(error("sysctl min_free_kbytes=lots").find("not an integer"), std::string::npos);
}

// pageblocks.svg: `show` gives the mount's bytes, and each change of the
// machine a new snapshot (the 512 MiB machine's first GFP_KERNEL page claims
// a Movable order-10 page, so its two pageblocks turn Unmovable; reset takes
// them back).
TEST_F(ServiceTest, PageblockMapFollowsTheMachine) {
  auto unmovable_cells = [](const std::string& svg) {
    size_t n = 0;
    for (size_t at = svg.find("data-mt=\"Unmovable\""); at != std::string::npos;
         at = svg.find("data-mt=\"Unmovable\"", at + 1)) {
      ++n;
    }
    return n;
  };
  const std::string fresh = service->render(ProcFile::kPageblocksSvg);
  EXPECT_EQ(ok("show pageblocks.svg")["text"], fresh);
  EXPECT_EQ(service->render(ProcFile::kPageblocksSvg), fresh);
  ok("alloc order=0 gfp=GFP_KERNEL");
  const std::string after = service->render(ProcFile::kPageblocksSvg);
  EXPECT_EQ(unmovable_cells(after), unmovable_cells(fresh) + 2);
  ok("reset");
  EXPECT_EQ(service->render(ProcFile::kPageblocksSvg), fresh);
}

TEST_F(ServiceTest, ShowStatusCheckHelpReset) {
  Json shown = ok("show buddyinfo");
  EXPECT_EQ(shown["text"], buddyinfo());
  EXPECT_EQ(shown["text"], render(ProcFile::kBuddyinfo, *service->stats()));
  EXPECT_NE(error("show slabinfo").find("unknown file 'slabinfo'"), std::string::npos);
  Json st = ok("status");
  EXPECT_EQ(st["machine"]["arch"], "x86_64");
  EXPECT_EQ(st["machine"]["nodes"], 1);
  EXPECT_EQ(st["machine"]["cpus"], 2);
  EXPECT_FALSE(st["machine"]["zones"].empty());
  EXPECT_EQ(ok("check")["problems"], Json::array());
  EXPECT_NE(ok("help")["text"].get<std::string>().find("alloc order=N"), std::string::npos);
  const std::string fresh = buddyinfo();
  ok("alloc order=4 gfp=GFP_KERNEL count=10");
  EXPECT_NE(buddyinfo(), fresh);
  ok("reset");
  EXPECT_EQ(buddyinfo(), fresh);
  EXPECT_EQ(ok("status")["live_allocations"], 0);
}

// A clone answers as the Service it was copied from, with its `trace`
// settings, and the two go separate ways; a Service with a replay (a
// client's) is not cloned.
// memory/ of the 512 MiB machine: four 128 MiB blocks, memory0 over DMA and
// DMA32 ("none"), the others DMA32; `show` takes the mount's paths, for
// anyone (the files are 0444).
TEST_F(ServiceTest, ShowsTheMemoryBlocksFiles) {
  Client nobody{Client::Origin::kSocket, 65534, 65534};
  EXPECT_EQ(ok("show memory/block_size_bytes", &nobody)["text"], "8000000\n");
  EXPECT_EQ(ok("show memory/memory0/valid_zones")["text"], "none\n");
  EXPECT_EQ(ok("show memory/memory3/valid_zones")["text"], "DMA32\n");
  EXPECT_EQ(ok("show memory/memory3/phys_index")["text"], "00000003\n");
  EXPECT_EQ(ok("show memory/memory3/state")["text"], "online\n");
  EXPECT_EQ(ok("show memory/memory3/online")["text"], "1\n");
  EXPECT_EQ(ok("show memory/memory3/removable")["text"], "1\n");
  EXPECT_EQ(ok("show memory/memory3/phys_device")["text"], "0\n");
  EXPECT_EQ(service->render_memory_block(3, MemoryBlockFile::kValidZones), "DMA32\n");
  EXPECT_EQ(service->render_block_size_bytes(), "8000000\n");
  EXPECT_EQ(service->memory_blocks().blocks().size(), 4u);
  EXPECT_EQ(error("show memory/memory4/state"),
            "show memory/memory4/state: no memory block 4 (blocks exist where there is RAM: see "
            "the mount's memory/)");
  EXPECT_NE(error("show memory/memory3/uevent").find("unknown file 'memory/memory3/uevent'"),
            std::string::npos);
}

// 512 MiB: memory0 spans DMA and DMA32, memory1 and memory2 are DMA32,
// memory3 ends in the hole below 512 MiB.
TEST_F(ServiceTest, MemoryOfflineAndOnline) {
  Json r = ok("memory offline block=2");
  EXPECT_EQ(r.dump(),
            R"({"ok":true,"block":2,"state":"offline","zone":"DMA32","pages":32768,"migrated":0,)"
            R"("migrated_pages":0,"message":"Offlined Pages 32768"})");
  EXPECT_EQ(service->render_memory_block(2, MemoryBlockFile::kState), "offline\n");
  EXPECT_EQ(error("memory offline block=2"),
            "memory offline block=2: the block is already offline");
  EXPECT_EQ(error("memory offline block=3"),
            "memory offline block=3: memory offlining [mem 0x18000000-0x1fffffff] failed due to "
            "memory holes");
  EXPECT_EQ(run("memory offline block=0")["failure"], "bad_input");
  // The mount's online file: 1 brings it back, 1 again is a quiet success.
  EXPECT_TRUE(service->write_memory_block(2, MemoryBlockFile::kOnline, "1\n", root).ok());
  EXPECT_EQ(service->render_memory_block(2, MemoryBlockFile::kOnline), "1\n");
  EXPECT_TRUE(service->write_memory_block(2, MemoryBlockFile::kOnline, "1", root).ok());
  const Reply again = service->write_memory_block(2, MemoryBlockFile::kState, "online\n", root);
  EXPECT_EQ(again.failure, Failure::kBadInput);
  EXPECT_EQ(again.error_message(), "memory online block=2: the block is already online");
  EXPECT_EQ(service->write_memory_block(2, MemoryBlockFile::kState, "onlin", root).failure,
            Failure::kBadInput);
  // An unmovable page pins its block: busy (EBUSY), nothing else changes.
  // (40 order-10 blocks: the last ones are past memory0.)
  const Json a = ok("alloc order=10 gfp=GFP_KERNEL count=40");
  const uint64_t pfn = std::stoull(a["allocations"].back()["pfn"].get<std::string>(), nullptr, 16);
  const uint64_t block = pfn >> 15;
  ASSERT_TRUE(block == 1 || block == 2) << pfn;
  const Json busy = run(fmt::format("memory offline block={}", block));
  EXPECT_EQ(busy["failure"], "busy");
  EXPECT_EQ(busy["error"],
            fmt::format("memory offline block={}: memory offlining [mem {:#010x}-{:#010x}] "
                        "failed due to failure to isolate range",
                        block, block << 27, ((block + 1) << 27) - 1));
  EXPECT_TRUE(ok("check")["problems"].empty());
}

TEST_F(ServiceTest, CloneIsAnIndependentCopy) {
  ok("trace on mm_page_alloc");
  ok("alloc order=2 gfp=GFP_KERNEL");
  auto copy = service->clone();
  ASSERT_TRUE(copy.ok()) << copy.error().message;
  Service& c = **copy;
  EXPECT_EQ(c.save_state(), service->save_state());
  EXPECT_EQ(c.max_state_bytes(), service->max_state_bytes());
  for (ProcFile f : kProcFiles) {
    EXPECT_EQ(c.render(f), service->render(f)) << proc_file_name(f);
  }
  // The same command gives the same reply, and the same trace line (the
  // events setting carried over): the copy's allocation id 2 is the original's.
  const std::string line = "alloc order=0 gfp=GFP_HIGHUSER_MOVABLE";
  Reply mine = c.execute(line, &root);
  Reply theirs = service->execute(line, &root);
  EXPECT_EQ(mine.json_line(), theirs.json_line());
  EXPECT_NE(mine.json_line().find("\"id\":2"), std::string::npos) << mine.json_line();
  // The trace's timestamps are the daemon's clock: compare the lines without them.
  auto untimed = [](std::string text) {
    return std::regex_replace(text, std::regex(" [0-9]+\\.[0-9]{6}: "), " T: ");
  };
  EXPECT_EQ(untimed(c.render(ProcFile::kTrace)), untimed(service->render(ProcFile::kTrace)));
  EXPECT_NE(c.render(ProcFile::kTrace).find("pfn=0x1000 order=2"), std::string::npos);
  // Separate ways: freeing on the copy leaves the original's allocations.
  ASSERT_TRUE(c.execute("free all", &root).ok());
  EXPECT_EQ(c.live_allocations(), 0u);
  EXPECT_EQ(service->live_allocations(), 2u);

  ok("replay begin");
  auto refused = service->clone();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "clone: a replay or a snapshot load belongs to a client of this Service");
}

TEST_F(ServiceTest, TextRepliesForTheControlFile) {
  Client control{Client::Origin::kControlFile, 0, 0};
  Reply r = service->execute("alloc order=1 gfp=GFP_KERNEL\n", &control);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.text.rfind("id=1 pfn=0x", 0), 0u) << r.text;
  EXPECT_NE(r.text.find(" order=1 zone="), std::string::npos);
  r = service->execute("alloc order=1", &control);
  EXPECT_EQ(r.failure, Failure::kBadInput);
  EXPECT_EQ(r.text.rfind("error: alloc: missing gfp=", 0), 0u) << r.text;
}

TEST_F(ServiceTest, InvalidUtf8IsReplacedNotThrown) {
  Reply r = service->execute("\xff\xfe", &root);
  EXPECT_FALSE(r.ok());
  EXPECT_NO_THROW({
    const Json parsed = Json::parse(r.json_line());
    (void)parsed;
  });
}

constexpr std::string_view kTrace =
    "# tracer: nop\n"
    "  bash-1 [001] .....   1.000001: mm_page_alloc: page=0000000000000000 pfn=0x112db0 order=0 "
    "migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP\n"
    "  bash-1 [000] .....   1.000002: mm_page_alloc: page=0000000000000000 pfn=0x112dc0 order=2 "
    "migratetype=0 gfp_flags=GFP_KERNEL\n"
    "  bash-1 [000] ...2.   1.000003: mm_page_free: page=0000000000000000 pfn=0x112db0 order=0\n"
    "  bash-1 [000] .....   1.000004: mm_page_alloc: this line is malformed\n";

// `status` names who runs a replay (issue 13): the client of `replay begin`,
// until its replay ends.
TEST_F(ServiceTest, StatusNamesTheReplaysHolder) {
  Client a{Client::Origin::kSocket, 1000, 0};
  a.pid = 4242;
  a.comm = "memctl";
  EXPECT_FALSE(ok("status").contains("replay_holder"));
  ok("replay begin", &a);
  const Json st = ok("status");
  EXPECT_EQ(st["replaying"], true);
  EXPECT_EQ(st["replay_holder"], (Json{{"uid", 1000}, {"pid", 4242}, {"comm", "memctl"}}));
  EXPECT_NE(service->execute("status", &root)
                .text.find("replay running: yes, by uid 1000 pid 4242 (memctl)\n"),
            std::string::npos);
  ok("replay abort", &a);
  EXPECT_FALSE(ok("status").contains("replay_holder"));
}

TEST_F(ServiceTest, StreamingReplay) {
  Client a{Client::Origin::kSocket, 1000, 0}, b{Client::Origin::kSocket, 0, 0};
  EXPECT_NE(error("replay end", &a).find("no replay running"), std::string::npos);
  EXPECT_EQ(ok("replay begin", &a).size(), 1u);
  EXPECT_NE(error("replay begin", &b).find("another replay is running"), std::string::npos);
  EXPECT_NE(error("replay begin", &a).find("still running"), std::string::npos);
  // Frames cut anywhere: a line is applied once complete.
  Reply r = service->replay_data(&a, kTrace.substr(0, 100));
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(r.json["lines"], 1);
  r = service->replay_data(&a, kTrace.substr(100));
  EXPECT_EQ(r.json["lines"], 5);
  Json end = ok("replay end", &a);
  ASSERT_TRUE(end["report"].is_object());
  EXPECT_EQ(end["report"]["lines"], 5);
  ASSERT_EQ(end["report"]["malformed"].size(), 1u);
  EXPECT_EQ(end["report"]["malformed"][0]["line"], 5);
  EXPECT_EQ(ok("status")["live_allocations"], 1);
  // The slot is free again.
  ok("replay begin", &b);
  ok("replay abort", &b);
  EXPECT_FALSE(service->replay_data(&b, kTrace).ok());
}

TEST_F(ServiceTest, ResetEndsAReplay) {
  Client a{Client::Origin::kSocket, 0, 0};
  ok("replay begin", &a);
  ok("reset");
  Reply r = service->replay_data(&a, kTrace);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("reset"), std::string::npos);
  ok("replay begin", &a);
  service->disconnect(&a);  // a client that goes away ends its replay
  ok("replay begin");
}

// The event lines of kTrace: two allocations and a free.
constexpr std::string_view kAllocLine =
    "  bash-1 [000] .....   1.000002: mm_page_alloc: page=0000000000000000 pfn=0x112dc0 order=2 "
    "migratetype=0 gfp_flags=GFP_KERNEL\n";
constexpr std::string_view kFreeLine =
    "  bash-1 [000] ...2.   1.000003: mm_page_free: page=0000000000000000 pfn=0x112dc0 order=2\n";

// The event counts of a history's rows, once per sample ("0 2 3 ").
std::string row_events(const std::string& rows) {
  std::string events, last;
  for (size_t at = 0; at < rows.size(); at = rows.find('\n', at) + 1) {
    const std::string e = rows.substr(at, rows.find(',', at) - at);
    if (e != last) events += e + " ";
    last = e;
  }
  return events;
}

// `replay begin every=N`: the header and the rows at event 0 come with the
// begin, each frame's rows with its reply, the rest with `replay end`.
TEST_F(ServiceTest, StreamingReplayWithHistory) {
  Client a{Client::Origin::kSocket, 1000, 0};
  Json begin = ok("replay begin every=2", &a);
  ASSERT_EQ(begin.size(), 2u);
  const std::string start = begin["history"];
  ASSERT_EQ(start.substr(0, kHistoryHeader.size()), kHistoryHeader);
  EXPECT_EQ(row_events(start.substr(kHistoryHeader.size())), "0 ");
  // 512 MiB: DMA and DMA32, a row each.
  EXPECT_EQ(std::count(start.begin(), start.end(), '\n'), 3);
  Reply r = service->replay_data(&a, kTrace.substr(0, 100));  // the header line only
  EXPECT_EQ(r.json.dump(), R"({"ok":true,"lines":1,"history":""})");
  r = service->replay_data(&a, kTrace.substr(100));
  EXPECT_EQ(row_events(r.json["history"]), "2 ");
  Json end = ok("replay end", &a);
  EXPECT_EQ(row_events(end["history"]), "3 ");  // the end, 3 events: no multiple of 2
  EXPECT_EQ(end["report"]["events"], 3);
  // A plain replay's replies are as they always were.
  EXPECT_EQ(ok("replay begin", &a).dump(), R"({"ok":true})");
  EXPECT_EQ(service->replay_data(&a, kTrace).json.dump(), R"({"ok":true,"lines":5})");
  EXPECT_FALSE(ok("replay end", &a).contains("history"));
  // An abort sends the rows not sent yet: none when the last were at its event count.
  ok("replay begin every=1", &a);
  r = service->replay_data(&a, kTrace.substr(0, 200));  // one event, and part of a line
  EXPECT_EQ(row_events(r.json["history"]), "1 ");
  EXPECT_EQ(ok("replay abort", &a)["history"], "");
  ok("replay begin every=2", &a);
  service->replay_data(&a, kTrace.substr(0, 200));
  EXPECT_EQ(row_events(ok("replay abort", &a)["history"]), "1 ");
}

// `replay begin continue`: the trace's pfns, the counts and the report go on
// from the replay before; `reset` forgets it.
TEST_F(ServiceTest, ContinueGoesOnFromThePreviousReplay) {
  Client a{Client::Origin::kSocket, 1000, 0};
  const std::string fresh = buddyinfo();
  EXPECT_EQ(error("replay begin continue", &a), "replay: no previous replay to continue");
  EXPECT_EQ(a.replay_session, 0u);
  EXPECT_FALSE(ok("status")["replaying"].get<bool>());
  EXPECT_EQ(buddyinfo(), fresh);
  ok("replay begin", &a);
  service->replay_data(&a, kAllocLine);
  ok("replay end", &a);
  EXPECT_EQ(ok("status")["live_allocations"], 1);
  // Continued: the free finds its allocation, and the report counts both parts.
  ok("replay begin continue every=1", &a);
  Reply r = service->replay_data(&a, kFreeLine);
  EXPECT_EQ(r.json["lines"], 1);  // this part's lines
  EXPECT_EQ(row_events(r.json["history"]), "2 ");
  Json end = ok("replay end", &a);
  EXPECT_EQ(end["report"]["lines"], 2);
  EXPECT_EQ(end["report"]["applied_frees"], 1);
  EXPECT_EQ(ok("status")["live_allocations"], 0);
  // Not continued: the same free is of a pfn this replay never saw.
  ok("replay begin", &a);
  service->replay_data(&a, kAllocLine);
  ok("replay end", &a);
  ok("replay begin", &a);
  service->replay_data(&a, kFreeLine);
  end = ok("replay end", &a);
  EXPECT_EQ(end["report"]["skipped_free_before_trace"], 1);
  EXPECT_EQ(ok("status")["live_allocations"], 1);
  // A reset drops the replay to continue, and so does a snapshot load.
  ok("reset");
  EXPECT_EQ(error("replay begin continue", &a), "replay: no previous replay to continue");
  ok("replay begin", &a);
  service->replay_data(&a, kAllocLine);
  ok("replay end", &a);
  const std::string state = service->save_state();
  ASSERT_TRUE(service->begin_snapshot_load(&a, state.size()).ok());
  ASSERT_TRUE(service->snapshot_load(&a, state).ok());
  EXPECT_EQ(error("replay begin continue", &a), "replay: no previous replay to continue");
}

// An abort drops the line it cut; the next part starts at a line boundary.
TEST_F(ServiceTest, AbortKeepsTheReplayButNotItsCutLine) {
  Client a{Client::Origin::kSocket, 1000, 0};
  ok("replay begin", &a);
  service->replay_data(&a, std::string(kAllocLine) + "  bash-1 [000] .....   1.0: mm_pa");
  ok("replay abort", &a);
  ok("replay begin continue", &a);
  service->replay_data(&a, kFreeLine);
  Json end = ok("replay end", &a);
  EXPECT_EQ(end["report"]["lines"], 2);
  EXPECT_EQ(end["report"]["malformed_lines"], 0);
  EXPECT_EQ(end["report"]["applied_frees"], 1);
  // A client that went away ends its replay; it can be continued too.
  ok("replay begin every=5 continue", &a);
  service->disconnect(&a);
  Json begin = ok("replay begin continue every=5", &a);
  EXPECT_EQ(row_events(begin["history"].get<std::string>().substr(kHistoryHeader.size())), "2 ");
  service->replay_data(&a, kAllocLine);
  ok("replay end", &a);
}

// A replay, or a continued part, without mm_page_alloc or mm_page_free
// events is refused as a whole: not_a_trace, what was read, and the replay
// before it goes on as if it had not been.
TEST_F(ServiceTest, EventlessReplayIsRefusedAndChangesNothing) {
  Client a{Client::Origin::kSocket, 1000, 0};
  ok("replay begin", &a);
  service->replay_data(&a, kAllocLine);
  ok("replay end", &a);
  const std::string after_alloc = buddyinfo();
  ok("replay begin every=1", &a);
  service->replay_data(&a,
                       "hello\n\x7f"
                       "ELF\n" +
                           std::string(kAllocLine.substr(0, 60)) + "\n");
  Reply end = service->execute("replay end", &a);
  EXPECT_EQ(end.failure, Failure::kNotATrace);
  EXPECT_EQ(end.json["failure"], "not_a_trace");
  EXPECT_EQ(end.error_message(),
            "replay: 3 lines, no mm_page_alloc or mm_page_free events: not a kernel trace? "
            "Nothing was applied (line 3: mm_page_alloc: truncated before pfn=)");
  EXPECT_FALSE(ok("status")["replaying"].get<bool>());
  EXPECT_EQ(buddyinfo(), after_alloc);
  // A continued part without events: refused too, its lines not counted.
  ok("replay begin continue", &a);
  service->replay_data(&a, "# tracer: nop\n");
  EXPECT_EQ(service->execute("replay end", &a).failure, Failure::kNotATrace);
  // The first replay goes on: its free finds the allocation.
  ok("replay begin continue", &a);
  service->replay_data(&a, kFreeLine);
  Json report = ok("replay end", &a)["report"];
  EXPECT_EQ(report["lines"], 2);
  EXPECT_EQ(report["applied_frees"], 1);
  EXPECT_EQ(ok("status")["live_allocations"], 0);
}

TEST_F(ServiceTest, ReplayFile) {
  char path[] = "/tmp/memd-service-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string gz = std::string(path) + ".gz";
  {
    gzFile f = gzopen(gz.c_str(), "wb");
    gzwrite(f, kTrace.data(), static_cast<unsigned>(kTrace.size()));
    gzclose(f);
  }
  Client control{Client::Origin::kControlFile, 0, 0};
  Client user{Client::Origin::kSocket, 1000, 0};
  Json j = ok("replay file=" + gz, &control);
  EXPECT_EQ(j["report"]["lines"], 5);
  EXPECT_NE(error("replay file=" + gz, &user).find("only root"), std::string::npos);
  EXPECT_NE(error("replay file=/nonexistent/trace").find("cannot open /nonexistent/trace"),
            std::string::npos);
  EXPECT_NE(error("replay begin", &control).find("for the socket"), std::string::npos);
  unlink(gz.c_str());
  unlink(path);
}

// A replay that stops on an error leaves the machine as it was before it
// began: a gzip file cut short (after more than a chunk of it was applied:
// the whole file changes the machine), a streaming client gone before
// `replay end`. `check` passes after each, and the next replay starts.
TEST_F(ServiceTest, AReplayThatFailsIsRolledBack) {
  std::string text;
  for (int i = 0; i < 40000; ++i) {
    text += fmt::format(
        "  bash-1 [000] .....   1.{:06}: mm_page_alloc: page=0000000000000000 pfn={:#x} order=0 "
        "migratetype=0 gfp_flags=GFP_KERNEL\n",
        i, 0x100000 + i);
  }
  ASSERT_GT(text.size(), 3 * TraceReader::kChunkBytes);
  char path[] = "/tmp/memd-service-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string whole = std::string(path) + ".gz", cut = std::string(path) + "-cut.gz";
  {
    gzFile f = gzopen(whole.c_str(), "wb1");
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
    std::ifstream in(whole, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 3 / 4);
  }
  Client control{Client::Origin::kControlFile, 0, 0};
  ok("alloc order=3 gfp=GFP_KERNEL count=3");
  const std::string before = buddyinfo();
  const Json status = ok("status");
  EXPECT_NE(error("replay file=" + cut, &control)
                .find("; the replay was rolled back: the machine "
                      "is as it was before the replay began"),
            std::string::npos);
  EXPECT_EQ(buddyinfo(), before);
  EXPECT_EQ(ok("status")["live_allocations"], status["live_allocations"]);
  EXPECT_EQ(ok("status")["counters"], status["counters"]);
  // Premise: the whole file changes the machine.
  EXPECT_EQ(ok("replay file=" + whole, &control)["report"]["applied_allocs"], 40000);
  EXPECT_NE(buddyinfo(), before);
  ok("reset");
  ok("alloc order=3 gfp=GFP_KERNEL count=3");
  ASSERT_EQ(buddyinfo(), before);

  Client a{Client::Origin::kSocket, 1000, 0};
  ok("replay begin", &a);
  EXPECT_TRUE(service->replay_data(&a, text.substr(0, text.size() / 2 / 128 * 128)).ok());
  EXPECT_NE(buddyinfo(), before);
  service->disconnect(&a);
  EXPECT_EQ(buddyinfo(), before);
  EXPECT_EQ(ok("status")["counters"], status["counters"]);
  EXPECT_EQ(ok("check")["problems"].size(), 0u);
  ok("replay begin", &a);
  ok("replay abort", &a);

  // Another client changed the machine while the replay ran: rolling back
  // would undo its allocation too, so the replay ends keeping what it applied.
  ok("replay begin", &a);
  const std::string part = text.substr(0, text.find('\n', 128 * 100) + 1);  // whole lines
  const auto lines = std::count(part.begin(), part.end(), '\n');
  EXPECT_TRUE(service->replay_data(&a, part).ok());
  const Json other = ok("alloc order=0 gfp=GFP_KERNEL")["allocations"][0];
  service->disconnect(&a);
  EXPECT_EQ(ok("status")["live_allocations"],
            status["live_allocations"].get<int64_t>() + lines + 1);
  ok("free id=" + std::to_string(other["id"].get<uint64_t>()));
  unlink(whole.c_str());
  unlink(cut.c_str());
  unlink(path);
}

// Readers never see a command half applied, and run while commands go on.
TEST_F(ServiceTest, ConcurrentCommandsAndSnapshots) {
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      auto s = service->stats();
      uint64_t total = 0;
      for (const auto& n : s->nodes) {
        for (const auto& z : n.zones)
          total += z.managed;
      }
      EXPECT_GT(total, 0u);
      EXPECT_FALSE(service->render(ProcFile::kZoneinfo).empty());
    }
  });
  std::vector<std::thread> writers;
  writers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      Client c{Client::Origin::kSocket, 0, 0};
      for (int i = 0; i < 200; ++i) {
        Reply r = service->execute(
            fmt::format("alloc order={} gfp=GFP_KERNEL cpu={} count=3", i % 4, t % 2), &c);
        ASSERT_TRUE(r.ok()) << r.error_message();
        for (const auto& a : r.json["allocations"]) {
          Reply f = service->execute(fmt::format("free id={}", a["id"].get<uint64_t>()), &c);
          ASSERT_TRUE(f.ok()) << f.error_message();
        }
      }
    });
  }
  for (auto& w : writers)
    w.join();
  stop = true;
  reader.join();
  EXPECT_EQ(ok("check")["problems"].size(), 0u);
  EXPECT_EQ(ok("status")["live_allocations"], 0);
}

}  // namespace
}  // namespace memd
