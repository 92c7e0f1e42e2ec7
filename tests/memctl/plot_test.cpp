// memctl plot's parts without a picture: the history CSV parser (rows and
// every kind of bad input, with the exact message), the scales, ticks and
// labels, the label spreading and the decimation, the SVG writer's escaping;
// `memctl plot`'s exit statuses and messages, in process.
// tests/pictures/plot_test.py checks the pictures themselves.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "client/history.h"
#include "client/memctl.h"
#include "client/plot.h"
#include "client/plot_scale.h"
#include "client/svg.h"

namespace memd::testing {
namespace {

using client::parse_history;

const std::string kHeader =
    "event,node,zone,free_pages,free_0,free_1,free_2,free_3,free_4,free_5,free_6,free_7,free_8,"
    "free_9,free_10,unmovable,movable,reclaimable,highatomic,isolate,unusable_9,unusable_10,"
    "extfrag_claims,extfrag_steals,alloc_failures\n";

// event, node, zone, free_pages, free_0..10 = 0..10 + k, types 1..5, 0.125,
// 0.250, claims k, steals 2k, failures 3k.
std::string row(uint64_t event, int node, const std::string& zone, uint64_t k) {
  std::string s = std::to_string(event) + "," + std::to_string(node) + "," + zone + "," +
                  std::to_string(1000 + k);
  for (uint64_t o = 0; o <= 10; ++o) {
    s += "," + std::to_string(o + k);
  }
  s += ",1,2,3,4,5,0.125,0.250," + std::to_string(k) + "," + std::to_string(2 * k) + "," +
       std::to_string(3 * k) + "\n";
  return s;
}

std::string error_of(const std::string& text) {
  auto h = parse_history(text, "h.csv");
  return h ? "" : h.error().message;
}

TEST(History, RowsByZoneInFileOrder) {
  auto h =
      parse_history(kHeader + row(0, 0, "Normal", 0) + row(0, 0, "DMA32", 1) +
                        row(10, 0, "Normal", 2) + row(10, 0, "DMA32", 3) + row(20, 1, "Normal", 4),
                    "h.csv");
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_EQ(h->zones.size(), 3u);
  EXPECT_EQ(h->zones[0].zone, "Normal");
  EXPECT_EQ(h->zones[1].zone, "DMA32");
  EXPECT_EQ(h->zones[2].node, 1);
  ASSERT_EQ(h->zones[0].rows.size(), 2u);
  const client::HistoryRow& r = h->zones[0].rows[1];
  EXPECT_EQ(r.event, 10u);
  EXPECT_EQ(r.free_pages, 1002u);
  EXPECT_EQ(r.free_blocks[0], 2u);
  EXPECT_EQ(r.free_blocks[10], 12u);
  EXPECT_EQ(r.pageblocks[0], 1u);
  EXPECT_EQ(r.pageblocks[4], 5u);
  EXPECT_DOUBLE_EQ(r.unusable_9, 0.125);
  EXPECT_DOUBLE_EQ(r.unusable_10, 0.25);
  EXPECT_EQ(r.extfrag_claims, 2u);
  EXPECT_EQ(r.extfrag_steals, 4u);
  EXPECT_EQ(r.alloc_failures, 6u);
  EXPECT_EQ(h->first_event, 0u);
  EXPECT_EQ(h->last_event, 20u);
}

TEST(History, CrLfAndNoFinalNewline) {
  std::string text = kHeader + row(0, 0, "DMA", 0) + row(5, 0, "DMA", 1);
  text.pop_back();
  auto h = parse_history(text, "h.csv");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->zones[0].rows.size(), 2u);
  std::string crlf;
  for (char c : kHeader + row(0, 0, "DMA", 0)) {
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  }
  EXPECT_TRUE(parse_history(crlf, "h.csv"));
}

TEST(History, BadFilesNameFileLineAndWhy) {
  EXPECT_EQ(error_of(""),
            "h.csv: empty, not a replay history (its first line is the header "
            "event,node,zone,...)");
  EXPECT_EQ(error_of(kHeader), "h.csv: a header and no rows, nothing to plot");
  EXPECT_EQ(error_of("event,node,zone\n"),
            "h.csv:1: not a replay history: column 4 of the header is missing where "
            "'free_pages' belongs (the header is event,node,zone,free_pages,free_0,...,"
            "alloc_failures)");
  EXPECT_EQ(error_of("event,node,Zone\n").substr(0, 60),
            "h.csv:1: not a replay history: column 3 of the header is 'Zo");
  std::string extra = kHeader;
  extra.insert(extra.size() - 1, ",more");
  EXPECT_EQ(error_of(extra), "h.csv:1: not a replay history: the header has 26 columns, not 25");
  std::string r = row(0, 0, "DMA", 0);
  EXPECT_EQ(error_of(kHeader + r + r.substr(0, r.rfind(',')) + "\n"),
            "h.csv:3: 24 columns where the header has 25");
  EXPECT_EQ(error_of(kHeader + r + "\n" + r), "h.csv:3: an empty line, not a row");
  EXPECT_EQ(error_of(kHeader + row(0, 0, "Nrmal", 0)),
            "h.csv:2: zone is 'Nrmal', not a zone (DMA, DMA32, Normal, HighMem, Movable or "
            "Device)");
  EXPECT_EQ(error_of(kHeader + row(0, 1024, "DMA", 0)),
            "h.csv:2: node is '1024', not a node number (0 to 1023)");
  EXPECT_EQ(error_of(kHeader + row(10, 0, "DMA", 0) + row(9, 0, "DMA32", 0)),
            "h.csv:3: event 9 comes after event 10 (events never go back)");
}

TEST(History, BadNumbersNameTheColumn) {
  const std::string r = row(0, 0, "DMA", 0);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string s = r;
    s.replace(s.find(from), from.size(), to);
    return error_of(kHeader + s);
  };
  EXPECT_EQ(with(",1000,", ",-1000,"),
            "h.csv:2: free_pages is '-1000', not a number (a count: digits only)");
  EXPECT_EQ(with(",1000,", ",,"),
            "h.csv:2: free_pages is empty, not a number (a count: digits only)");
  EXPECT_EQ(with(",1000,", ",99999999999999999999,"),
            "h.csv:2: free_pages is '99999999999999999999', not a number (a count: digits only)");
  EXPECT_EQ(with(",3,4,5,", ",3,x,5,"),
            "h.csv:2: free_4 is 'x', not a number (a count: digits only)");
  EXPECT_EQ(with("0.125", "1.5"),
            "h.csv:2: unusable_9 is '1.5', not an unusable index (a number from 0 to 1, like "
            "0.123)");
  EXPECT_EQ(with("0.250", "nan"),
            "h.csv:2: unusable_10 is 'nan', not an unusable index (a number from 0 to 1, like "
            "0.123)");
  EXPECT_EQ(with("0,0,0\n", "0,0,0 \n"),
            "h.csv:2: alloc_failures is '0 ', not a number (a count: digits only)");
}

TEST(PlotScale, NiceValues) {
  EXPECT_EQ(client::nice_ceil(0), 1);
  EXPECT_EQ(client::nice_ceil(1), 1);
  EXPECT_EQ(client::nice_ceil(3), 5);
  EXPECT_EQ(client::nice_ceil(700), 1000);
  EXPECT_EQ(client::nice_ceil(1000), 1000);
  EXPECT_EQ(client::nice_ceil(1001), 2000);
  const client::Scale lin = client::y_scale(client::Scale::Kind::kLinear, 700000, 100, 0);
  EXPECT_EQ(lin.v1, 800000);
  EXPECT_EQ(client::ticks(lin, 4, 0), (std::vector<double>{0, 200000, 400000, 600000, 800000}));
  EXPECT_EQ(client::y_scale(client::Scale::Kind::kLinear, 0, 100, 0).v1, 1);
  EXPECT_EQ(client::y_scale(client::Scale::Kind::kLinear, 90000, 100, 0).v1, 100000);
  const client::Scale log = client::y_scale(client::Scale::Kind::kLog1p, 1500, 200, 0);
  EXPECT_EQ(log.v1, 2000);
  EXPECT_DOUBLE_EQ(log(0), 200);
  EXPECT_DOUBLE_EQ(log(2000), 0);
  EXPECT_NEAR(log(100), 200 - 200 * std::log1p(100) / std::log1p(2000), 1e-9);
  // 0, the powers of ten, and the top when 13 px above 1000.
  EXPECT_EQ(client::ticks(log, 4, 13), (std::vector<double>{0, 1, 10, 100, 1000, 2000}));
  EXPECT_EQ(client::ticks(log, 4, 50), (std::vector<double>{0, 1, 10, 100, 1000}));
  const client::Scale events{client::Scale::Kind::kLinear, 0, 300000, 0, 600};
  EXPECT_EQ(client::ticks(events, 6, 0),
            (std::vector<double>{0, 50000, 100000, 150000, 200000, 250000, 300000}));
  const client::Scale few{client::Scale::Kind::kLinear, 0, 3, 0, 600};
  EXPECT_EQ(client::ticks(few, 6, 0), (std::vector<double>{0, 1, 2, 3}));
}

TEST(PlotScale, Labels) {
  EXPECT_EQ(client::tick_label(0), "0");
  EXPECT_EQ(client::tick_label(750), "750");
  EXPECT_EQ(client::tick_label(1000), "1k");
  EXPECT_EQ(client::tick_label(2500), "2.5k");
  EXPECT_EQ(client::tick_label(250000), "250k");
  EXPECT_EQ(client::tick_label(1500000), "1.5M");
  EXPECT_EQ(client::tick_label(2e9), "2G");
  EXPECT_EQ(client::grouped(0), "0");
  EXPECT_EQ(client::grouped(999), "999");
  EXPECT_EQ(client::grouped(1000), "1,000");
  EXPECT_EQ(client::grouped(1234567), "1,234,567");
}

TEST(PlotScale, SpreadLabels) {
  // Three labels wanting y=10: in rank order, 11 px apart.
  EXPECT_EQ(client::spread_labels({10, 10, 10}, {2, 0, 1}, 11, 0, 100),
            (std::vector<double>{32, 10, 21}));
  // At the bottom they move up; far apart they stay.
  EXPECT_EQ(client::spread_labels({100, 100}, {0, 1}, 11, 0, 100), (std::vector<double>{89, 100}));
  EXPECT_EQ(client::spread_labels({50, 5}, {0, 1}, 11, 0, 100), (std::vector<double>{50, 5}));
}

TEST(PlotScale, DecimateKeepsSpikesAndEnds) {
  std::vector<client::Point> pts;
  for (int i = 0; i < 10000; ++i) {
    pts.push_back({i / 100.0, i == 5055 ? -50.0 : (i == 7077 ? 90.0 : i % 3)});
  }
  const auto out = client::decimate(pts, 0, 100);
  EXPECT_LE(out.size(), 400u);
  EXPECT_EQ(out.front().x, 0);
  EXPECT_EQ(out.back().x, 99.99);
  EXPECT_EQ(out.back().y, 9999 % 3);
  double lo = 0, hi = 0;
  for (const auto& p : out) {
    lo = std::min(lo, p.y);
    hi = std::max(hi, p.y);
  }
  EXPECT_EQ(lo, -50);
  EXPECT_EQ(hi, 90);
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_LE(out[i - 1].x, out[i].x);
  }
  // Fewer than four points per column: unchanged.
  std::vector<client::Point> few(pts.begin(), pts.begin() + 300);
  EXPECT_EQ(client::decimate(few, 0, 100).size(), 300u);
}

TEST(Svg, EscapesAndNumbers) {
  EXPECT_EQ(client::xml_escape("a<b&\"c'>"), "a&lt;b&amp;&quot;c&apos;&gt;");
  EXPECT_EQ(client::xml_escape("caf\xc3\xa9 \xff\x01\xc0\xaf\xed\xa0\x80!"),
            "caf\xc3\xa9 " + std::string(7, '?') + "!");
  EXPECT_EQ(client::coord(-0.04), "0.0");
  EXPECT_EQ(client::coord(12.25), "12.3");
  EXPECT_EQ(client::coord(7), "7.0");
}

TEST(Plot, SameInputSameBytes) {
  auto h = parse_history(kHeader + row(0, 0, "DMA32", 0) + row(100, 0, "DMA32", 5), "h.csv");
  ASSERT_TRUE(h);
  const std::vector<client::PlotInput> in = {{*h, "one"}, {*h, "two"}};
  const std::string svg = client::render_plot(in);
  EXPECT_EQ(svg, client::render_plot(in));
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 0), 0u);
  // Two columns of 784 px, 24 px apart, 20 px margins.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      svg, m, std::regex("width=\"(\\d+)\" height=\"(\\d+)\" viewBox=\"0 0 (\\d+) (\\d+)\"")));
  EXPECT_EQ(m[1], "1632");
  EXPECT_EQ(m[1], m[3]);
  EXPECT_EQ(m[2], m[4]);
}

// --- memctl plot's command line ---------------------------------------------------------------

// A fresh temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/memctl-plot-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(dir_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `content` to NAME in the directory; returns its path.
  std::string file(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
    return path(name);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

struct Outcome {
  int status = -1;
  std::string err;
};

Outcome plot(std::vector<std::string> args) {
  args.insert(args.begin(), {"memctl", "plot"});
  std::ostringstream out, err;
  const int status = client::run(args, client::Environment{}, out, err);
  return {status, err.str()};
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// One line on stderr, "memctl: " first, holding `needle`.
void expect_error(const Outcome& r, int status, const std::string& needle) {
  EXPECT_EQ(r.status, status) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("memctl: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(PlotCommand, WritesTheSvg) {
  TempDir d;
  const std::string csv = d.file("h.csv", kHeader + row(0, 0, "DMA32", 0) + row(9, 0, "DMA32", 1));
  const Outcome r = plot({csv, "-o", d.path("h.svg"), "--label", "first"});
  EXPECT_EQ(r.status, client::kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string svg = read_file(d.path("h.svg"));
  EXPECT_NE(svg.find(">first</text>"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(PlotCommand, UsageErrorsExitTwo) {
  TempDir d;
  const std::string csv = d.file("h.csv", kHeader + row(0, 0, "DMA32", 0));
  expect_error(plot({csv}), client::kExitUsage, "--output is required");
  expect_error(plot({"-o", d.path("x.svg")}), client::kExitUsage, "FILE is required");
  expect_error(plot({d.path("missing.csv"), "-o", d.path("x.svg")}), client::kExitUsage,
               "plot: cannot read " + d.path("missing.csv") + ": No such file or directory");
  expect_error(plot({csv, "-o", d.path("x.svg"), "--label", "a", "--label", "b"}),
               client::kExitUsage, "plot: 2 labels for 1 files (one --label per file, in order)");
  expect_error(plot({csv, "-o", d.path("no/dir/x.svg")}), client::kExitUsage,
               d.path("no/dir/x.svg"));
  EXPECT_FALSE(std::filesystem::exists(d.path("x.svg")));
}

TEST(PlotCommand, BadHistoryExitsOneAndKeepsTheOldPicture) {
  TempDir d;
  const std::string good = d.file("good.csv", kHeader + row(0, 0, "DMA32", 0));
  const std::string out = d.file("out.svg", "old");
  const auto bad = [&](const std::string& name, const std::string& text) {
    return plot({good, d.file(name, text), "-o", out});
  };
  expect_error(bad("empty.csv", ""), client::kExitRefused,
               "plot: " + d.path("empty.csv") + ": empty, not a replay history");
  expect_error(bad("header.csv", "event,node\n"), client::kExitRefused,
               d.path("header.csv") + ":1: not a replay history: column 3");
  expect_error(bad("rows.csv", kHeader + row(0, 0, "DMA", 0) + "1,2,3\n"), client::kExitRefused,
               d.path("rows.csv") + ":3: 3 columns where the header has 25");
  expect_error(bad("nan.csv", kHeader + row(0, 0, "DMA", 0).replace(0, 1, "x")),
               client::kExitRefused, d.path("nan.csv") + ":2: event is 'x', not a number");
  EXPECT_EQ(read_file(out), "old");
}

}  // namespace
}  // namespace memd::testing
