#include "client/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <tuple>

#include "client/exchange.h"
#include "client/memctl.h"
#include "client/plot_scale.h"
#include "client/snapshot.h"
#include "client/svg.h"

namespace memd::client {
namespace {

// --- the layout, in pixels ------------------------------------------------------------------

constexpr double kMargin = 20;
constexpr double kLeft = 88;    // y tick labels and the y axis's name, left of each plot
constexpr double kPlotW = 600;  // the plots' width
constexpr double kRight = 96;   // the labels at the lines' ends
constexpr double kColW = kLeft + kPlotW + kRight;
constexpr double kColGap = 24;
constexpr double kHeaderH = 50;
constexpr double kZoneTitleH = 26;
constexpr double kPanelTitleH = 16;
constexpr double kPanelGap = 12;
constexpr double kPad = 4;  // between a panel's frame and the ends of its y scale
constexpr double kMarksTop = 6;
constexpr double kMarkRowH = 12;
constexpr double kAxisH = 36;  // x tick labels and the x axis's name
constexpr double kZoneGap = 22;
constexpr double kFootLineH = 15;
constexpr double kLabelGap = 11;  // between two labels at the lines' ends
constexpr double kTickGap = 13;   // the least room between two y ticks of a log scale

struct PanelSpec {
  const char* id;  // data-panel
  const char* title;
  const char* ylabel;
  Scale::Kind kind;
  double height;
};

constexpr PanelSpec kBlocksPanel = {"free_blocks", "Free blocks per order (log scale)",
                                    "free blocks", Scale::Kind::kLog1p, 180};
constexpr PanelSpec kTypesPanel = {"pageblocks", "Pageblocks per migrate type (log scale)",
                                   "pageblocks", Scale::Kind::kLog1p, 120};
constexpr PanelSpec kPagesPanel = {"free_pages", "Free pages", "pages", Scale::Kind::kLinear, 90};

// What a mark row shows: where a cumulative counter grew.
struct MarkSpec {
  const char* key;  // data-series
  const char* label;
  const char* colour;
  uint64_t HistoryRow::*field;
};

constexpr std::array<MarkSpec, 3> kMarks = {{
    {"extfrag_claims", "extfrag claims", "#606060", &HistoryRow::extfrag_claims},
    {"extfrag_steals", "extfrag steals", "#a0a0a0", &HistoryRow::extfrag_steals},
    {"alloc_failures", "alloc failures", "#000000", &HistoryRow::alloc_failures},
}};

constexpr double kZoneH = kZoneTitleH + 3 * kPanelTitleH + kBlocksPanel.height +
                          kTypesPanel.height + kPagesPanel.height + 2 * kPanelGap + kMarksTop +
                          kMarks.size() * kMarkRowH + kAxisH + kZoneGap;

// Order 0 to 10: ColorBrewer's Blues from #6baed6 through #2171b5 to #08306b.
constexpr std::array<const char*, kHistoryOrders> kOrderColours = {
    "#6baed6", "#5ca2cf", "#4d96c9", "#3f89c2", "#307dbc", "#2171b5",
    "#1c64a6", "#175797", "#124a89", "#0d3d7a", "#08306b"};
constexpr std::array<const char*, kHistoryTypes> kTypeColours = {"#d62728", "#2ca02c", "#ff7f0e",
                                                                 "#9467bd", "#bcbd22"};
constexpr std::array<const char*, kHistoryTypes> kTypeKeys = {"unmovable", "movable", "reclaimable",
                                                              "highatomic", "isolate"};
constexpr const char* kTextGrey = "#555555";

// --- what the picture shows -------------------------------------------------------------------

// A zone of a machine, ordered as the kernel numbers them.
struct ZoneKey {
  int node = 0;
  std::string zone;
  friend bool operator<(const ZoneKey& a, const ZoneKey& b) {
    return std::tuple(a.node, zone_rank(a.zone), a.zone) <
           std::tuple(b.node, zone_rank(b.zone), b.zone);
  }
};

// A zone's largest values over every history: the tops of its y scales.
struct ZoneMax {
  uint64_t blocks = 0;
  uint64_t pageblocks = 0;
  uint64_t pages = 0;
};

// What every column shares: the zones (one row each), their scales' tops,
// the events.
struct Frame {
  std::vector<ZoneKey> zones;
  std::map<ZoneKey, ZoneMax> max;
  uint64_t x0 = 0;
  uint64_t x1 = 1;
  bool decimated = false;  // some line has fewer points than samples
};

void widen(ZoneMax* m, const ZoneHistory& z) {
  for (const HistoryRow& r : z.rows) {
    m->blocks = std::max(m->blocks, *std::max_element(r.free_blocks.begin(), r.free_blocks.end()));
    m->pageblocks =
        std::max(m->pageblocks, *std::max_element(r.pageblocks.begin(), r.pageblocks.end()));
    m->pages = std::max(m->pages, r.free_pages);
  }
}

Frame make_frame(const std::vector<PlotInput>& inputs) {
  Frame f;
  f.x0 = inputs.front().history.first_event;
  f.x1 = inputs.front().history.last_event;
  for (const PlotInput& in : inputs) {
    f.x0 = std::min(f.x0, in.history.first_event);
    f.x1 = std::max(f.x1, in.history.last_event);
    for (const ZoneHistory& z : in.history.zones) {
      widen(&f.max[ZoneKey{z.node, z.zone}], z);
    }
  }
  if (f.x1 == f.x0) ++f.x1;
  for (const auto& [key, max] : f.max) {
    f.zones.push_back(key);
  }
  return f;
}

const ZoneHistory* find_zone(const History& h, const ZoneKey& key) {
  for (const ZoneHistory& z : h.zones) {
    if (z.node == key.node && z.zone == key.zone) return &z;
  }
  return nullptr;
}

// One history's zone (or its absence), where it is drawn.
struct Cell {
  int column = 0;
  double left = 0;  // the column's left edge
  double top = 0;   // the zone's top
  const ZoneKey* key = nullptr;
  const ZoneMax* max = nullptr;
  const ZoneHistory* zone = nullptr;  // nullptr: the history has no such zone
  Scale xs;                           // events to pixels
  Frame* frame = nullptr;
};

// A line of a panel.
struct Series {
  std::string key;  // data-series
  std::string label;
  const char* colour = "";
  int rank = 0;  // labels wanting the same height: the lower rank above
  double width = 1.5;
  std::function<uint64_t(const HistoryRow&)> value;
};

std::vector<Series> order_series() {
  std::vector<Series> out;
  for (size_t o = 0; o < kHistoryOrders; ++o) {
    out.push_back({"free_" + std::to_string(o), "order " + std::to_string(o), kOrderColours[o],
                   static_cast<int>(kHistoryOrders - o), 1.5,
                   [o](const HistoryRow& r) { return r.free_blocks[o]; }});
  }
  return out;
}

// Drawn Isolate, HighAtomic, Reclaimable, Unmovable, Movable: a later line
// covers an earlier one where they meet (all of them at 0, at the bottom),
// so the types a zone usually has stay visible.
std::vector<Series> type_series() {
  constexpr std::array<size_t, kHistoryTypes> kDrawOrder = {4, 3, 2, 0, 1};
  std::vector<Series> out;
  out.reserve(kDrawOrder.size());
  for (size_t t : kDrawOrder) {
    out.push_back({kTypeKeys[t], std::string(kHistoryTypeNames[t]), kTypeColours[t],
                   static_cast<int>(t), 2, [t](const HistoryRow& r) { return r.pageblocks[t]; }});
  }
  return out;
}

std::vector<Series> pages_series() {
  return {{"free_pages", "", "#404040", 0, 1.5, [](const HistoryRow& r) { return r.free_pages; }}};
}

// --- drawing ----------------------------------------------------------------------------------

std::string num(uint64_t v) {
  return std::to_string(v);
}

Attrs panel_attrs(const Cell& c, const char* id, const Scale& ys) {
  return {{"data-panel", id},
          {"data-column", std::to_string(c.column)},
          {"data-node", std::to_string(c.key->node)},
          {"data-zone", c.key->zone},
          {"data-x0", num(c.frame->x0)},
          {"data-x1", num(c.frame->x1)},
          {"data-px0", coord(c.xs.p0)},
          {"data-px1", coord(c.xs.p1)},
          {"data-y", ys.kind_name()},
          {"data-y0", fmt::format("{:g}", ys.v0)},
          {"data-y1", fmt::format("{:.0f}", ys.v1)},
          {"data-py0", coord(ys.p0)},
          {"data-py1", coord(ys.p1)}};
}

// Vertical grid lines at the x ticks, from `top` to `bottom`.
void draw_x_grid(SvgWriter* svg, const Scale& xs, double top, double bottom) {
  for (double v : ticks(xs, 6, 0)) {
    svg->line(xs(v), top, xs(v), bottom, {{"stroke", "#ececec"}});
  }
}

// The frame of a panel, its grid and its y ticks, and the y axis's name.
void draw_axes(SvgWriter* svg, const Cell& c, const PanelSpec& p, const Scale& ys, double top) {
  const double bottom = top + p.height;
  draw_x_grid(svg, c.xs, top, bottom);
  for (double v : ticks(ys, 4, kTickGap)) {
    svg->line(c.xs.p0, ys(v), c.xs.p1, ys(v), {{"stroke", "#e4e4e4"}});
    svg->text(c.xs.p0 - 5, ys(v) + 3.5, tick_label(v),
              {{"text-anchor", "end"}, {"font-size", "10"}, {"fill", kTextGrey}});
  }
  svg->rect(c.xs.p0, top, c.xs.p1 - c.xs.p0, p.height, {{"fill", "none"}, {"stroke", "#b0b0b0"}});
  const double x = c.left + 14, y = top + p.height / 2;
  svg->text(x, y, p.ylabel,
            {{"text-anchor", "middle"},
             {"fill", kTextGrey},
             {"transform", fmt::format("rotate(-90 {} {})", coord(x), coord(y))}});
  svg->text(c.xs.p0, top - 5, p.title, {{"font-weight", "bold"}, {"fill", "#333333"}});
}

// A series' line, through its (decimated) samples.
void draw_line(SvgWriter* svg, const Cell& c, const Scale& ys, const Series& s) {
  std::vector<Point> points;
  points.reserve(c.zone->rows.size());
  for (const HistoryRow& r : c.zone->rows) {
    points.push_back({c.xs(static_cast<double>(r.event)), ys(static_cast<double>(s.value(r)))});
  }
  std::vector<Point> drawn = decimate(points, c.xs.p0, c.xs.p1);
  if (drawn.size() != points.size()) c.frame->decimated = true;
  svg->polyline(drawn, {{"stroke", s.colour},
                        {"stroke-width", fmt::format("{:g}", s.width)},
                        {"stroke-linejoin", "round"},
                        {"data-series", s.key},
                        {"data-node", std::to_string(c.key->node)},
                        {"data-zone", c.key->zone}});
}

// Each series' label at its line's end, moved apart where they would
// overlap, with a thin grey leader from the line's end (unlike any line).
void draw_end_labels(SvgWriter* svg, const Cell& c, const Scale& ys,
                     const std::vector<Series>& series, double top, double bottom) {
  std::vector<double> wanted;
  std::vector<int> rank;
  for (const Series& s : series) {
    wanted.push_back(ys(static_cast<double>(s.value(c.zone->rows.back()))));
    rank.push_back(s.rank);
  }
  const std::vector<double> at = spread_labels(wanted, rank, kLabelGap, top + 4, bottom - 2);
  const double x = c.xs.p1;
  const double end = c.xs(static_cast<double>(c.zone->rows.back().event));
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const std::string text = s.label.empty() ? grouped(s.value(c.zone->rows.back())) : s.label;
    svg->polyline({{end + 2, wanted[i]}, {x + 9, at[i]}, {x + 12, at[i]}},
                  {{"stroke", "#c0c0c0"}, {"stroke-width", "0.8"}});
    svg->text(x + 14, at[i] + 3.5, text, {{"fill", s.colour}, {"data-label", s.key}});
  }
}

// A panel: its title and axes, a line per series, the labels. Returns its bottom.
double draw_panel(SvgWriter* svg, const Cell& c, const PanelSpec& p, uint64_t max,
                  const std::vector<Series>& series, double top) {
  top += kPanelTitleH;
  const double bottom = top + p.height;
  const Scale ys = y_scale(p.kind, max, bottom - kPad, top + kPad);
  svg->open_group(panel_attrs(c, p.id, ys));
  draw_axes(svg, c, p, ys, top);
  for (const Series& s : series) {
    draw_line(svg, c, ys, s);
  }
  draw_end_labels(svg, c, ys, series, top, bottom);
  svg->close_group();
  return bottom;
}

// Runs of sample intervals in which a counter grew.
struct MarkRun {
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t delta = 0;
};

std::vector<MarkRun> mark_runs(const std::vector<HistoryRow>& rows, uint64_t HistoryRow::*field,
                               const Scale& xs) {
  std::vector<MarkRun> runs;
  for (size_t i = 1; i < rows.size(); ++i) {
    const uint64_t a = rows[i - 1].*field, b = rows[i].*field;
    if (b <= a) continue;
    const uint64_t from = rows[i - 1].event, to = rows[i].event;
    if (!runs.empty() &&
        xs(static_cast<double>(from)) - xs(static_cast<double>(runs.back().to)) < 2) {
      runs.back().to = to;
      runs.back().delta += b - a;
    } else {
      runs.push_back({from, to, b - a});
    }
  }
  return runs;
}

// One row of marks: its name at the left, a mark per run, the growth over
// the whole history at the right.
void draw_mark_row(SvgWriter* svg, const Cell& c, const MarkSpec& m, double top) {
  svg->text(c.xs.p0 - 5, top + kMarkRowH - 3, m.label,
            {{"text-anchor", "end"}, {"font-size", "10"}, {"fill", kTextGrey}});
  for (const MarkRun& r : mark_runs(c.zone->rows, m.field, c.xs)) {
    double x = c.xs(static_cast<double>(r.from)), w = c.xs(static_cast<double>(r.to)) - x;
    if (w < 2) {
      x = std::clamp(x + w / 2 - 1, c.xs.p0, c.xs.p1 - 2);
      w = 2;
    }
    svg->rect(x, top + 2, w, kMarkRowH - 3,
              {{"fill", m.colour},
               {"data-series", m.key},
               {"data-from", num(r.from)},
               {"data-to", num(r.to)},
               {"data-delta", num(r.delta)}});
  }
  const uint64_t first = c.zone->rows.front().*m.field, last = c.zone->rows.back().*m.field;
  svg->text(c.xs.p1 + 14, top + kMarkRowH - 3, "+" + grouped(last > first ? last - first : 0),
            {{"font-size", "10"}, {"fill", m.colour}, {"data-label", m.key}});
}

// The marks under the panels, then the x axis. Returns its bottom.
double draw_marks(SvgWriter* svg, const Cell& c, double top) {
  top += kMarksTop;
  const double bottom = top + kMarks.size() * kMarkRowH;
  const Scale ys{Scale::Kind::kLinear, 0, 1, bottom, top};
  svg->open_group(panel_attrs(c, "marks", ys));
  draw_x_grid(svg, c.xs, top, bottom);
  for (size_t i = 0; i < kMarks.size(); ++i) {
    draw_mark_row(svg, c, kMarks[i], top + i * kMarkRowH);
  }
  svg->line(c.xs.p0, bottom, c.xs.p1, bottom, {{"stroke", "#808080"}});
  for (double v : ticks(c.xs, 6, 0)) {
    svg->line(c.xs(v), bottom, c.xs(v), bottom + 4, {{"stroke", "#808080"}});
    svg->text(c.xs(v), bottom + 15, tick_label(v),
              {{"text-anchor", "middle"}, {"font-size", "10"}, {"fill", kTextGrey}});
  }
  svg->text((c.xs.p0 + c.xs.p1) / 2, bottom + 30, "trace events replayed",
            {{"text-anchor", "middle"}, {"fill", kTextGrey}});
  svg->close_group();
  return bottom + kAxisH;
}

void draw_cell(SvgWriter* svg, const Cell& c) {
  const std::string title = fmt::format("Node {}, zone {}", c.key->node, c.key->zone);
  svg->text(c.left + 2, c.top + 16, title, {{"font-size", "14"}, {"font-weight", "bold"}});
  if (!c.zone) {
    svg->text(c.xs.p0 + kPlotW / 2, c.top + kZoneH / 2,
              fmt::format("no zone {} on node {} in this history", c.key->zone, c.key->node),
              {{"text-anchor", "middle"}, {"fill", kTextGrey}});
    return;
  }
  double y = c.top + kZoneTitleH;
  y = draw_panel(svg, c, kBlocksPanel, c.max->blocks, order_series(), y) + kPanelGap;
  y = draw_panel(svg, c, kTypesPanel, c.max->pageblocks, type_series(), y) + kPanelGap;
  y = draw_panel(svg, c, kPagesPanel, c.max->pages, pages_series(), y);
  draw_marks(svg, c, y);
}

void draw_header(SvgWriter* svg, const PlotInput& in, double left) {
  size_t samples = 0;
  for (const ZoneHistory& z : in.history.zones) {
    samples = std::max(samples, z.rows.size());
  }
  svg->text(left + kLeft, kMargin + 18, in.label, {{"font-size", "17"}, {"font-weight", "bold"}});
  svg->text(left + kLeft, kMargin + 36,
            fmt::format("{} samples of {} zones, events {} to {}", grouped(samples),
                        in.history.zones.size(), grouped(in.history.first_event),
                        grouped(in.history.last_event)),
            {{"fill", kTextGrey}});
}

void draw_footnote(SvgWriter* svg, const Frame& f, double top) {
  std::vector<std::string> lines = {
      "Lines join the samples of each replay history; a zone's y scales are the same in "
      "every column.",
      "Marks: between which samples a counter grew; at the right, its growth over the whole "
      "history. Failures are the machine's."};
  if (f.decimated) {
    lines.push_back(
        "More samples than pixel columns: each column draws its first, last, lowest and "
        "highest sample, so spikes stay visible.");
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    svg->text(kMargin, top + 12 + i * kFootLineH, lines[i], {{"fill", kTextGrey}});
  }
}

std::string base_name(const std::string& path) {
  if (path == "-") return "stdin";
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string render_plot(const std::vector<PlotInput>& inputs) {
  Frame f = make_frame(inputs);
  const size_t n = inputs.size();
  const double width = 2 * kMargin + n * kColW + (n - 1) * kColGap;
  const double body = kMargin + kHeaderH + f.zones.size() * kZoneH;
  std::string title = "memd replay history:";
  for (const PlotInput& in : inputs) {
    title += (&in == &inputs.front() ? " " : " | ") + in.label;
  }
  SvgWriter svg(static_cast<int>(width), static_cast<int>(body + 3 * kFootLineH + kMargin), title);
  for (size_t col = 0; col < n; ++col) {
    const double left = kMargin + col * (kColW + kColGap);
    svg.open_group({{"data-column", std::to_string(col)}, {"data-label", inputs[col].label}});
    draw_header(&svg, inputs[col], left);
    for (size_t row = 0; row < f.zones.size(); ++row) {
      const ZoneKey& key = f.zones[row];
      const Scale xs{Scale::Kind::kLinear, static_cast<double>(f.x0), static_cast<double>(f.x1),
                     left + kLeft, left + kLeft + kPlotW};
      const Cell c{static_cast<int>(col),
                   left,
                   kMargin + kHeaderH + row * kZoneH,
                   &key,
                   &f.max.at(key),
                   find_zone(inputs[col].history, key),
                   xs,
                   &f};
      draw_cell(&svg, c);
    }
    svg.close_group();
  }
  draw_footnote(&svg, f, body);
  return svg.finish();
}

int plot_histories(const std::vector<std::string>& csv_paths,
                   const std::vector<std::string>& labels, const std::string& out_path,
                   std::ostream& err) {
  if (csv_paths.empty()) return fail(err, kExitUsage, "plot: no history file to plot");
  if (out_path.empty()) return fail(err, kExitUsage, "plot: no output file (-o OUT.svg)");
  if (labels.size() > csv_paths.size()) {
    return fail(err, kExitUsage,
                fmt::format("plot: {} labels for {} files (one --label per file, in order)",
                            labels.size(), csv_paths.size()));
  }
  std::vector<PlotInput> inputs;
  for (size_t i = 0; i < csv_paths.size(); ++i) {
    auto text = read_all(csv_paths[i]);
    if (!text) return fail(err, kExitUsage, "plot: " + text.error().message);
    auto history = parse_history(*text, csv_paths[i] == "-" ? "stdin" : csv_paths[i]);
    if (!history) return fail(err, kExitRefused, "plot: " + history.error().message);
    inputs.push_back(
        {std::move(*history), i < labels.size() ? labels[i] : base_name(csv_paths[i])});
  }
  auto file = AtomicFile::create(out_path);
  if (!file) return fail(err, kExitUsage, "plot: " + file.error().message);
  if (auto s = file->write(render_plot(inputs)); !s) {
    return fail(err, kExitUsage, "plot: " + s.error().message);
  }
  if (auto s = file->commit(); !s) return fail(err, kExitUsage, "plot: " + s.error().message);
  return kExitOk;
}

}  // namespace memd::client
