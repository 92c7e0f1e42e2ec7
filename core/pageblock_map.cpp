// The pageblock map (pageblocks.svg), drawn from a PageblockSnapshot and the
// counters: collect each zone's pageblocks (the ones its pagetypeinfo row
// counts), choose the cell size, aggregate, then lay out the title, the
// legend and one section per zone.
#include "core/pageblock_map.h"

#include <fmt/compile.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>
#include <string_view>

namespace memd {
namespace {

// --- geometry (px) ---------------------------------------------------------------------------

constexpr int kCell = 11;          // a cell's side
constexpr int kPitch = kCell + 1;  // with a 1-px white gap
constexpr uint64_t kCellsPerRow = 64;
constexpr int kMargin = 12;
constexpr int kLabelWidth = 86;  // the row labels: each row's first pfn
constexpr int kGridX = kMargin + kLabelWidth;
constexpr int kWidth = kGridX + static_cast<int>(kCellsPerRow) * kPitch + kMargin;
constexpr int kLine = 18;          // a line of legend text
constexpr int kTableLine = 15;     // a line of the block count table
constexpr int kZoneHeader = 22;    // a zone's title line
constexpr int kGapLine = 14;       // "no pageblocks of this zone in ..."
constexpr int kZoneSpacing = 12;   // between two zones
constexpr int kTableColumn = 100;  // width of a count column
constexpr int kTableFirst = 150;   // width of the "Node N, zone NAME" column

using Out = std::string;

std::back_insert_iterator<Out> to(Out* out) {
  return std::back_inserter(*out);
}

// --- the blocks of each zone -----------------------------------------------------------------

// A cell: one pageblock, or 2^shift consecutive aligned pageblocks.
struct Cell {
  uint64_t key = 0;                         // its first pageblock >> shift
  std::array<uint32_t, kMigrateTypes> n{};  // its blocks of each migrate type
  uint32_t blocks = 0;                      // of this zone in the cell
  uint64_t free = 0;                        // their buddy-free pages
  bool dot = false;  // one of them holds a free order >= pageblock_order page
};

// A populated zone: the pageblocks its "Number of blocks" row counts, as
// runs of consecutive blocks, and the cells they make.
struct ZoneMap {
  const ZoneStats* zone = nullptr;
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // [first, last] pageblock
  std::vector<Cell> cells;
};

// Whether the row of the zone `tag` (global_idx + 1) counts `block`.
bool counted_by(const PageblockZones& zones, uint64_t block, uint16_t tag) {
  if (block >= zones.first.size() || zones.first[block] == 0) return false;
  if (zones.first[block] == tag) return true;
  return std::any_of(zones.second.begin(), zones.second.end(),
                     [&](const auto& s) { return s.first == block && s.second == tag; });
}

// The walk of pagetypeinfo_showblockcount_print(): every pageblock_nr_pages-th
// pfn from start_pfn whose page is in the zone.
ZoneMap zone_map(const ZoneStats& z, const PageblockSnapshot& snap) {
  ZoneMap m;
  m.zone = &z;
  const auto tag = static_cast<uint16_t>(z.global_idx + 1);
  for (Pfn pfn = z.start_pfn; pfn < z.start_pfn + z.spanned; pfn += 1ULL << snap.pageblock_order) {
    const uint64_t block = pfn >> snap.pageblock_order;
    if (!counted_by(*snap.zones, block, tag)) continue;
    if (!m.runs.empty() && m.runs.back().second + 1 == block) {
      m.runs.back().second = block;
    } else {
      m.runs.emplace_back(block, block);
    }
  }
  return m;
}

// Populated zones of every node, in buddyinfo's order.
std::vector<ZoneMap> zone_maps(const MachineStats& s, const PageblockSnapshot& snap) {
  std::vector<ZoneMap> maps;
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      if (z.populated) maps.push_back(zone_map(z, snap));
    }
  }
  return maps;
}

uint64_t block_count(const std::vector<ZoneMap>& maps) {
  uint64_t blocks = 0;
  for (const ZoneMap& m : maps) {
    for (auto [first, last] : m.runs) {
      blocks += last - first + 1;
    }
  }
  return blocks;
}

// The smallest shift that brings the blocks within kMaxMapCells cells (a
// zone's first and last cells may be partial and add a few).
unsigned map_shift(const std::vector<ZoneMap>& maps) {
  const uint64_t blocks = block_count(maps);
  unsigned shift = 0;
  while ((blocks + (1ULL << shift) - 1) >> shift > kMaxMapCells) {
    ++shift;
  }
  return shift;
}

// The zone's blocks into cells of 2^shift blocks.
void aggregate(ZoneMap* m, const PageblockSnapshot& snap, unsigned shift) {
  const uint64_t pages = 1ULL << snap.pageblock_order;
  const Pfn zone_start = m->zone->start_pfn;
  const Pfn zone_end = zone_start + m->zone->spanned;
  for (auto [first, last] : m->runs) {
    for (uint64_t block = first; block <= last; ++block) {
      const uint64_t key = block >> shift;
      if (m->cells.empty() || m->cells.back().key != key) m->cells.push_back(Cell{key});
      Cell& c = m->cells.back();
      c.n[snap.migratetype(block)]++;
      c.blocks++;
      c.free += snap.free[block];
      // All pages buddy-free and all in this zone: merged into one free page
      // of order >= pageblock_order (Machine::check verifies the merging).
      const Pfn start = block << snap.pageblock_order;
      c.dot |= snap.free[block] == pages && start >= zone_start && start + pages <= zone_end;
    }
  }
}

// --- words -----------------------------------------------------------------------------------

// "2 MiB", "128 MiB", "1 GiB".
std::string bytes_text(uint64_t bytes) {
  if (bytes >= (1ULL << 40) && bytes % (1ULL << 40) == 0) return fmt::format("{} TiB", bytes >> 40);
  if (bytes >= (1ULL << 30) && bytes % (1ULL << 30) == 0) return fmt::format("{} GiB", bytes >> 30);
  return fmt::format("{} MiB", bytes >> 20);
}

// "1 cell = 1 pageblock (2 MiB)", "1 cell = 64 pageblocks (128 MiB)".
std::string ratio_text(unsigned shift, unsigned pageblock_order) {
  const uint64_t blocks = 1ULL << shift;
  return fmt::format("1 cell = {} pageblock{} ({})", blocks, blocks == 1 ? "" : "s",
                     bytes_text(blocks << (pageblock_order + kPageShift)));
}

// "x86_64, 4095 MiB in 1 node" (as memd's status says it), "x86_64, 4096
// GiB in 16 nodes" from 64 GiB on.
std::string machine_text(const MachineStats& s) {
  uint64_t present = 0;
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      present += z.present;
    }
  }
  const uint64_t mib = (present * kPageSize) >> 20;
  return fmt::format(
      "{}, {} in {} node{}", s.arch == Arch::kX86_64 ? "x86_64" : "i386",
      mib < (64 << 10) ? fmt::format("{} MiB", mib) : fmt::format("{} GiB", (mib + 512) >> 10),
      s.nodes.size(), s.nodes.size() == 1 ? "" : "s");
}

// "1008 Movable, 8 Unmovable": the zone's nonzero block counts, in type order.
std::string counts_text(const ZoneStats& z) {
  std::string out;
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    if (z.block_count[mt] == 0) continue;
    fmt::format_to(to(&out), FMT_COMPILE("{}{} {}"), out.empty() ? "" : ", ", z.block_count[mt],
                   kMigrateTypeNames[mt]);
  }
  return out;
}

// --- drawing primitives ----------------------------------------------------------------------

void text(Out* out, int x, int y, std::string_view cls, std::string_view s,
          std::string_view anchor = {}) {
  fmt::format_to(to(out), FMT_COMPILE("<text x=\"{}\" y=\"{}\" class=\"{}\""), x, y, cls);
  if (!anchor.empty()) fmt::format_to(to(out), FMT_COMPILE(" text-anchor=\"{}\""), anchor);
  fmt::format_to(to(out), FMT_COMPILE(">{}</text>\n"), s);
}

void swatch(Out* out, int x, int y, uint32_t rgb) {
  fmt::format_to(
      to(out), FMT_COMPILE("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#{:06x}\"/>"),
      x, y, kCell, kCell, rgb);
}

void dot(Out* out, int x, int y) {
  fmt::format_to(to(out), FMT_COMPILE("<circle cx=\"{}.5\" cy=\"{}.5\" r=\"2\"/>\n"), x + kCell / 2,
                 y + kCell / 2);
}

// --- the legend ------------------------------------------------------------------------------

// One swatch per migrate type, named.
int legend_types(Out* out, int y) {
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    const int x = kMargin + static_cast<int>(mt) * 130;
    swatch(out, x, y, kMigrateTypeColours[mt]);
    text(out, x + kCell + 5, y + 10, "t", kMigrateTypeNames[mt]);
  }
  return y + kLine;
}

// The shade scale, on Movable: 0, 25, 50, 75 and 100 % of a block free.
int legend_shades(Out* out, int y, unsigned pageblock_order) {
  text(out, kMargin, y + 10, "t", "free:");
  const uint64_t pages = 1ULL << pageblock_order;
  for (unsigned q = 0; q <= 4; ++q) {
    const int x = kMargin + 42 + static_cast<int>(q) * 64;
    swatch(out, x, y, shade_colour(kMigrateTypeColours[kMovable], pages * q / 4, pages));
    text(out, x + kCell + 5, y + 10, "t", fmt::format("{} %", q * 25));
  }
  text(out, kMargin + 42 + 5 * 64, y + 10, "t",
       fmt::format("of a pageblock's {} pages free in the buddy allocator", pages));
  y += kLine;
  text(out, kMargin + 42, y + 10, "t",
       "(pages on per-cpu lists count as in use; the colour keeps its hue, a wholly free block "
       "is a 50 % tint)");
  return y + kLine;
}

// The dot, and for aggregated maps how a cell of several blocks is drawn.
int legend_marks(Out* out, int y, unsigned shift, unsigned pageblock_order) {
  const uint64_t pages = 1ULL << pageblock_order;
  swatch(out, kMargin, y, shade_colour(kMigrateTypeColours[kMovable], pages, pages));
  dot(out, kMargin, y);
  text(out, kMargin + kCell + 5, y + 10, "t",
       fmt::format("a free page of order {}+: {} is wholly free", pageblock_order,
                   shift ? "at least one of the cell's pageblocks" : "the pageblock"));
  y += kLine;
  if (!shift) return y;
  text(out, kMargin, y + 10, "t",
       "a cell of several types: one stripe per type, its height in proportion to the "
       "cell's pageblocks of that type; shaded by their mean free part");
  return y + kLine;
}

// pagetypeinfo's "Number of blocks type" table, the same counts.
int legend_table(Out* out, int y, const std::vector<ZoneMap>& maps) {
  y += 6;
  text(out, kMargin, y + 11, "h", "Number of blocks type");
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    text(out, kMargin + kTableFirst + static_cast<int>(mt + 1) * kTableColumn, y + 11, "h",
         kMigrateTypeNames[mt], "end");
  }
  y += kTableLine;
  for (const ZoneMap& m : maps) {
    const ZoneStats& z = *m.zone;
    text(out, kMargin, y + 11, "m", fmt::format("Node {}, zone {}", z.nid, z.name));
    for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
      text(out, kMargin + kTableFirst + static_cast<int>(mt + 1) * kTableColumn, y + 11, "m",
           fmt::to_string(z.block_count[mt]), "end");
    }
    y += kTableLine;
  }
  return y;
}

// --- the cells -------------------------------------------------------------------------------

// Heights in whole pixels of the stripes of an aggregated cell: the cell's
// blocks fill blocks/2^shift of its height, shared by largest remainder;
// every type present keeps at least a pixel where the cell has room.
std::array<int, kMigrateTypes> stripe_heights(const Cell& c, uint64_t per_cell) {
  const int filled =
      std::max<int>(1, static_cast<int>((2 * kCell * c.blocks + per_cell) / (2 * per_cell)));
  std::array<int, kMigrateTypes> h{};
  std::array<uint64_t, kMigrateTypes> rest{};
  int used = 0;
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    h[mt] = static_cast<int>(filled * uint64_t{c.n[mt]} / c.blocks);
    rest[mt] = filled * uint64_t{c.n[mt]} % c.blocks;
    used += h[mt];
  }
  for (; used < filled; ++used) {
    const auto most = std::max_element(rest.begin(), rest.end()) - rest.begin();
    h[most]++;
    rest[most] = 0;
  }
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    const auto tallest = std::max_element(h.begin(), h.end()) - h.begin();
    if (c.n[mt] && !h[mt] && h[tallest] > 1) {
      h[tallest]--;
      h[mt]++;
    }
  }
  return h;
}

// A cell of one pageblock.
void block_cell(Out* out, int x, int y, const Cell& c, unsigned pageblock_order) {
  const uint64_t pages = 1ULL << pageblock_order;
  const auto mt = static_cast<unsigned>(
      std::find_if(c.n.begin(), c.n.end(), [](uint32_t n) { return n != 0; }) - c.n.begin());
  fmt::format_to(to(out),
                 FMT_COMPILE("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#{:06x}\" "
                             "data-pfn=\"0x{:x}\" data-mt=\"{}\" data-free=\"{}\"{}/>\n"),
                 x, y, kCell, kCell, shade_colour(kMigrateTypeColours[mt], c.free, pages),
                 c.key << pageblock_order, kMigrateTypeNames[mt], c.free,
                 c.dot ? " data-dot=\"1\"" : "");
  if (c.dot) dot(out, x, y);
}

// A cell of 2^shift pageblocks: a group of stripes.
void aggregated_cell(Out* out, int x, int y, const Cell& c, unsigned shift,
                     unsigned pageblock_order) {
  const uint64_t per_cell = 1ULL << shift;
  fmt::format_to(to(out),
                 FMT_COMPILE("<g data-pfn=\"0x{:x}\" data-blocks=\"{}\" data-n=\"{}\" "
                             "data-free=\"{}\"{}>"),
                 c.key << (shift + pageblock_order), c.blocks, fmt::join(c.n, ","), c.free,
                 c.dot ? " data-dot=\"1\"" : "");
  const auto h = stripe_heights(c, per_cell);
  const uint64_t pages = uint64_t{c.blocks} << pageblock_order;
  int top = y;
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    if (!h[mt]) continue;
    fmt::format_to(to(out),
                   FMT_COMPILE("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
                               "fill=\"#{:06x}\" data-mt=\"{}\"/>"),
                   x, top, kCell, h[mt], shade_colour(kMigrateTypeColours[mt], c.free, pages),
                   kMigrateTypeNames[mt]);
    top += h[mt];
  }
  if (c.dot) dot(out, x, y);
  out->append("</g>\n");
}

// --- the zones -------------------------------------------------------------------------------

// What the sections share.
struct Grid {
  unsigned shift = 0;
  unsigned pageblock_order = kPageblockOrder;
  // The first pfn of the cell with this key.
  Pfn pfn(uint64_t key) const { return key << (shift + pageblock_order); }
};

// "Node 0, zone DMA32", its span as zoneinfo gives it and its counts.
int zone_header(Out* out, int y, const ZoneMap& m) {
  const ZoneStats& z = *m.zone;
  uint64_t blocks = 0;
  for (uint64_t n : z.block_count) {
    blocks += n;
  }
  fmt::format_to(to(out),
                 FMT_COMPILE("<g data-nid=\"{}\" data-zone=\"{}\" data-start-pfn=\"0x{:x}\" "
                             "data-spanned=\"0x{:x}\" data-blocks=\"{}\">\n"),
                 z.nid, z.name, z.start_pfn, z.spanned, blocks);
  text(out, kMargin, y + 15, "z", fmt::format("Node {}, zone {}", z.nid, z.name));
  text(out, kMargin + 170, y + 15, "t",
       fmt::format("pfn 0x{:x}-0x{:x} (start_pfn 0x{:x}, spanned 0x{:x})", z.start_pfn,
                   z.start_pfn + z.spanned - 1, z.start_pfn, z.spanned));
  text(out, kMargin + 170, y + 15 + kLine - 2, "t",
       fmt::format("{} pageblock{}: {}", blocks, blocks == 1 ? "" : "s", counts_text(z)));
  return y + kZoneHeader + kLine - 2;
}

// A line where rows without any of the zone's blocks are left out: pfns
// [from, to).
int zone_gap(Out* out, int y, Pfn from, Pfn to) {
  text(out, kGridX, y + 10, "m",
       fmt::format("no pageblocks of this zone in pfn 0x{:x}-0x{:x}", from, to - 1));
  return y + kGapLine;
}

// The zone's cells, 64 to a row from its first cell, each row labelled with
// its first pfn.
int zone_section(Out* out, int y, const ZoneMap& m, const Grid& g) {
  y = zone_header(out, y, m);
  const uint64_t first = m.cells.empty() ? 0 : m.cells.front().key;
  uint64_t row = ~0ULL;
  int row_y = y - kPitch;
  for (const Cell& c : m.cells) {
    const uint64_t r = (c.key - first) / kCellsPerRow;
    if (r != row) {
      if (row != ~0ULL && r > row + 1) {
        row_y = zone_gap(out, row_y + kPitch, g.pfn(first + (row + 1) * kCellsPerRow),
                         g.pfn(first + r * kCellsPerRow)) -
                kPitch;
      }
      row = r;
      row_y += kPitch;
      text(out, kGridX - 6, row_y + 9, "m",
           fmt::format("0x{:x}", g.pfn(first + row * kCellsPerRow)), "end");
    }
    const int x = kGridX + static_cast<int>((c.key - first) % kCellsPerRow) * kPitch;
    if (g.shift == 0) {
      block_cell(out, x, row_y, c, g.pageblock_order);
    } else {
      aggregated_cell(out, x, row_y, c, g.shift, g.pageblock_order);
    }
  }
  out->append("</g>\n");
  return row_y + kPitch + kZoneSpacing;
}

// --- the document ----------------------------------------------------------------------------

constexpr std::string_view kStyle =
    "<style type=\"text/css\">"
    "text{fill:#222;font-family:sans-serif;font-size:12px}"
    ".title{font-size:16px;font-weight:bold}"
    ".z{font-size:13px;font-weight:bold}"
    ".h{font-family:monospace;font-size:11px;font-weight:bold}"
    ".m{font-family:monospace;font-size:11px;fill:#444}"
    "</style>\n";

// The title, the ratio and the legend; returns where the map starts.
int head(Out* out, const MachineStats& s, const std::vector<ZoneMap>& maps, const Grid& g) {
  text(out, kMargin, 24, "title", "Pageblocks by migrate type: " + machine_text(s));
  text(out, kMargin, 44, "t",
       fmt::format("{}; a row = {} cells = {}; pageblock_order {}",
                   ratio_text(g.shift, g.pageblock_order), kCellsPerRow,
                   bytes_text(g.pfn(kCellsPerRow) << kPageShift), g.pageblock_order));
  int y = 58;
  y = legend_types(out, y);
  y = legend_shades(out, y, g.pageblock_order);
  y = legend_marks(out, y, g.shift, g.pageblock_order);
  y = legend_table(out, y, maps);
  return y + 14;
}

}  // namespace

uint32_t shade_colour(uint32_t rgb, uint64_t free, uint64_t pages) {
  uint32_t out = 0;
  for (unsigned shift = 0; shift < 24; shift += 8) {
    const uint64_t c = (rgb >> shift) & 0xff;
    const uint64_t mixed = c + ((255 - c) * free * 2 + 2 * pages) / (4 * pages);
    out |= static_cast<uint32_t>(mixed) << shift;
  }
  return out;
}

unsigned pageblock_map_shift(const MachineStats& stats, const PageblockSnapshot& snap) {
  return map_shift(zone_maps(stats, snap));
}

std::string render_pageblocks_svg(const MachineStats& stats, const PageblockSnapshot& snap) {
  std::vector<ZoneMap> maps = zone_maps(stats, snap);
  const Grid g{map_shift(maps), snap.pageblock_order};
  for (ZoneMap& m : maps) {
    aggregate(&m, snap, g.shift);
  }
  Out body;
  const int map_top = head(&body, stats, maps, g);
  int y = map_top;
  body.append("<g shape-rendering=\"crispEdges\">\n");
  for (const ZoneMap& m : maps) {
    y = zone_section(&body, y, m, g);
  }
  body.append("</g>\n");
  Out out;
  fmt::format_to(to(&out),
                 FMT_COMPILE("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                             "width=\"{0}px\" height=\"{1}px\" viewBox=\"0 0 {0} {1}\" "
                             "data-map-top=\"{2}\" data-pageblocks-per-cell=\"{3}\">\n"),
                 kWidth, y, map_top, 1ULL << g.shift);
  out.append(kStyle);
  fmt::format_to(to(&out), FMT_COMPILE("<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n"),
                 kWidth, y);
  out.append(body);
  out.append("</svg>\n");
  return out;
}

}  // namespace memd
