#include "core/machine_files.h"

#include <fmt/format.h>

#include "core/assert.h"

namespace memd {

namespace {

void append_zonelist(std::string* out, const Machine& m, int nid, std::string_view kind,
                     const std::vector<unsigned>& zonelist) {
  *out += fmt::format("Node {} {}:", nid, kind);
  for (unsigned global_idx : zonelist) {
    // Zones are numbered node by node, every zone type in each (free_area_init_core).
    const unsigned per_node = m.layout().arch.nr_zones();
    const Zone& z = m.zone(static_cast<int>(global_idx / per_node), global_idx % per_node);
    *out += fmt::format(" {}/{}", z.name, z.nid);
  }
  *out += zonelist.empty() ? " (none)\n" : "\n";
}

}  // namespace

std::string render_zonelists(const Machine& m) {
  std::string out;
  for (int nid = 0; nid < m.nr_nodes(); ++nid) {
    append_zonelist(&out, m, nid, "fallback", m.zonelist(nid));
    append_zonelist(&out, m, nid, "nofallback", m.nofallback_zonelist(nid));
  }
  return out;
}

std::vector<ZoneSpan> Machine::zone_spans(int nid) const {
  std::vector<ZoneSpan> spans;
  for (const auto& z : zones_[static_cast<size_t>(nid)]) {
    spans.push_back({z->start_pfn, z->spanned, z->present});
  }
  return spans;
}

std::optional<std::string> render_memory_block_file(const Machine& m, uint64_t block_id,
                                                    MemoryBlockFile file) {
  const MemoryBlock* block = m.memory_blocks().find(block_id);
  if (!block) {
    return std::nullopt;
  }
  // A block that no node claimed (nid -1) is online with no zone: its
  // valid_zones never reads a node's zones.
  const std::vector<ZoneSpan> zones =
      block->nid >= 0 ? m.zone_spans(block->nid) : std::vector<ZoneSpan>{};
  return render_memory_block_file(file, m.memory_blocks(), *block, m.layout().arch, zones);
}

std::string render_machine_file(ProcFile file, const Machine& m) {
  switch (file) {
    case ProcFile::kDmesg:
      return m.kernel_log().dmesg();
    case ProcFile::kZonelists:
      return render_zonelists(m);
    case ProcFile::kTrace:
      return m.trace_buffer().render_trace();
    case ProcFile::kPageblocksSvg:
      return render_pageblocks_svg(m.stats(), m.pageblock_snapshot());
    default:
      MEMD_ASSERT(!"a counter file: render(file, stats)");
      return {};
  }
}

}  // namespace memd
