// The wire spelling of values: numbers as clients type them, pfns as memd
// writes them, words of a command line.
#include <gtest/gtest.h>

#include "protocol/files.h"
#include "protocol/text.h"

namespace memd::protocol {
namespace {

TEST(ParseUint, DecimalAndHex) {
  EXPECT_EQ(parse_uint("0"), 0u);
  EXPECT_EQ(parse_uint("128000"), 128000u);
  EXPECT_EQ(parse_uint("0x1f400"), 0x1f400u);
  EXPECT_EQ(parse_uint("0X1F400"), 0x1f400u);
  EXPECT_EQ(parse_uint("007"), 7u);  // leading zeros are decimal, not octal
}

TEST(ParseUint, Limits) {
  EXPECT_EQ(parse_uint("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_uint("0xffffffffffffffff"), UINT64_MAX);
  EXPECT_FALSE(parse_uint("18446744073709551616"));
  EXPECT_FALSE(parse_uint("0x10000000000000000"));
}

TEST(ParseUint, RefusesAnythingElse) {
  for (const char* bad : {"", "0x", "x1", "-1", "+1", " 1", "1 ", "1k", "0x1g", "1.0", "0b1"}) {
    EXPECT_FALSE(parse_uint(bad)) << "'" << bad << "'";
  }
}

TEST(PfnText, LowerHexWith0x) {
  EXPECT_EQ(pfn_text(0), "0x0");
  EXPECT_EQ(pfn_text(0x1f400), "0x1f400");
  EXPECT_EQ(pfn_text(UINT64_MAX), "0xffffffffffffffff");
  EXPECT_EQ(parse_uint(pfn_text(0xabcdef)), 0xabcdefu);
}

TEST(QuoteValue, PlainWordsStayAsTheyAre) {
  EXPECT_EQ(*quote_value("GFP_KERNEL|__GFP_ZERO"), "GFP_KERNEL|__GFP_ZERO");
  EXPECT_EQ(*quote_value("256 256 32"), "\"256 256 32\"");
  EXPECT_EQ(*quote_value("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(*quote_value(""), "\"\"");
  EXPECT_EQ(*quote_value("a\tb"), "\"a\tb\"");
}

TEST(QuoteValue, RefusesControlCharacters) {
  EXPECT_FALSE(quote_value("GFP_KERNEL\nfree all").ok());
  EXPECT_FALSE(quote_value(std::string_view("a\0b", 3)).ok());
  EXPECT_FALSE(quote_value("\x7f").ok());
}

TEST(Files, OneListInTheMountsOrder) {
  EXPECT_EQ(file_names(),
            "buddyinfo, pagetypeinfo, zoneinfo, vmstat, meminfo, extfrag_index, unusable_index, "
            "dmesg, zonelists, trace, pageblocks.svg");
  EXPECT_EQ(file_names(" or "),
            "buddyinfo, pagetypeinfo, zoneinfo, vmstat, meminfo, extfrag_index, unusable_index, "
            "dmesg, zonelists, trace or pageblocks.svg");
  EXPECT_EQ(file_index("buddyinfo"), 0u);
  EXPECT_EQ(file_index("unusable_index"), 6u);
  EXPECT_EQ(file_index("dmesg"), 7u);
  EXPECT_EQ(file_index("zonelists"), 8u);
  EXPECT_EQ(file_index("trace"), 9u);
  EXPECT_EQ(file_index("pageblocks.svg"), 10u);
  EXPECT_FALSE(file_index("cpuinfo"));
  EXPECT_FALSE(file_index(""));
}

TEST(Files, MemoryPaths) {
  using P = MemoryFilePath;
  EXPECT_EQ(parse_memory_file_path("memory/block_size_bytes"), P{});
  EXPECT_EQ(parse_memory_file_path("memory/memory0/phys_index"), (P{0, 0}));
  EXPECT_EQ(parse_memory_file_path("memory/memory8/state"), (P{8, 1}));
  EXPECT_EQ(parse_memory_file_path("memory/memory33/valid_zones"), (P{33, 4}));
  EXPECT_EQ(parse_memory_file_path("memory/memory1023/online"), (P{1023, 5}));
  for (const char* bad :
       {"memory", "memory/", "memory/memory8", "memory/memory8/", "memory/memory/state",
        "memory/memory08/state", "memory/memory8/node0", "memory/memory8/uevent",
        "memory/memory-1/state", "memory/memory8/state/", "memory/memory8//state",
        "memory/memory1234567890123456/state", "memory/memoryx/state", "memory/../buddyinfo",
        "/memory/memory8/state", "memory/memory8/state ", "memory/auto_online_blocks", "node/node0",
        "buddyinfo"}) {
    EXPECT_EQ(parse_memory_file_path(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace memd::protocol
