// The pageblock map, pageblocks.svg: every pageblock of every populated zone
// as a cell coloured by its migrate type and shaded by how much of it is
// buddy-free, zone by zone in buddyinfo's order, with a legend that carries
// pagetypeinfo's "Number of blocks type" table. memd's own file (the kernel
// has none); plain SVG 1.1, the same bytes for the same state.
//
// Two steps, so that the daemon holds its lock only for the first: a
// PageblockSnapshot (Machine::pageblock_snapshot) copies two per-pageblock
// arrays the machine keeps (three bytes per pageblock, no walk of frames or
// free lists), and render_pageblocks_svg() draws from it and the counters
// snapshot (MachineStats) outside the lock.
//
// The picture (what tests and the pixel tests rely on):
// - Colours: kMigrateTypeColours (Unmovable #d62728, Movable #2ca02c,
//   Reclaimable #ff7f0e, HighAtomic #9467bd, Isolate #bcbd22; CMA #17becf is
//   reserved, memd has no CMA). A cell's colour is its type's mixed with
//   white by 0.5 * free / pages (shade_colour): a fully free block is a 50 %
//   tint, the hue never changes. Everything else is white, grey or black.
// - free: the block's buddy-free pages (MemContext::pageblock_free); pages on
//   per-cpu lists are not free. A black dot marks a block that holds a free
//   page of order >= pageblock_order (all of its pages are buddy-free).
// - More than kMaxMapCells blocks: a cell stands for 2^k consecutive aligned
//   pageblocks, drawn as horizontal stripes, one per migrate type, whose
//   heights are in proportion to the cell's blocks of that type (a cell with
//   fewer blocks than 2^k is filled in proportion), shaded by the blocks'
//   mean free fraction, dotted if any of its blocks is.
// - Saturated pixels below the root's data-map-top are cells only (the
//   legend's swatches are above it).
// - Data attributes: a cell of one block is a <rect> with data-pfn (its
//   first pfn), data-mt, data-free and data-dot="1" when dotted; a cell of
//   several a <g> with data-pfn, data-blocks, data-n (blocks per migrate
//   type, comma-separated in enum order), data-free (the sum) and data-dot,
//   around one <rect data-mt> per stripe. A zone is a <g> with data-nid,
//   data-zone, data-start-pfn, data-spanned (hex) and data-blocks; the root
//   has data-map-top and data-pageblocks-per-cell.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/memmap.h"
#include "core/stats.h"
#include "core/types.h"

namespace memd {

// What the map is drawn from, besides the counters: copied under the
// daemon's lock, drawn outside it.
struct PageblockSnapshot {
  unsigned pageblock_order = kPageblockOrder;
  std::shared_ptr<const PageblockZones> zones;  // which zone's row counts each block
  std::vector<uint8_t> raw;                     // the pageblock bitmap, one byte per block
  std::vector<uint16_t> free;                   // buddy-free pages per block
  // get_pfnblock_migratetype() of block `block`.
  unsigned migratetype(uint64_t block) const {
    const uint8_t b = raw[block];
    return (b & PageblockTable::kIsolateBit) ? kIsolate : (b & PageblockTable::kMigrateMask);
  }
};

// 0xRRGGBB per migrate type, in enum migratetype's order.
inline constexpr std::array<uint32_t, kMigrateTypes> kMigrateTypeColours = {
    0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd, 0xbcbd22};
inline constexpr uint32_t kCmaColour = 0x17becf;  // MIGRATE_CMA, should memd ever have it

// The map draws at most this many cells; a larger machine aggregates.
inline constexpr uint64_t kMaxMapCells = 4096;

// `rgb` mixed with white by 0.5 * free / pages, each channel rounded half up.
uint32_t shade_colour(uint32_t rgb, uint64_t free, uint64_t pages);

// log2 of the pageblocks per cell: the smallest that keeps the map within
// kMaxMapCells cells.
unsigned pageblock_map_shift(const MachineStats& stats, const PageblockSnapshot& snap);

std::string render_pageblocks_svg(const MachineStats& stats, const PageblockSnapshot& snap);

}  // namespace memd
