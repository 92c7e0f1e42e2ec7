#include "core/e820.h"

#include <algorithm>
#include <charconv>

namespace memd::e820 {

namespace {

// The number in "type N" or "persistent (type N)"; 0 when `text` is not one.
uint32_t numbered_type(std::string_view text, std::string_view prefix, std::string_view suffix) {
  if (text.size() <= prefix.size() + suffix.size() || text.substr(0, prefix.size()) != prefix ||
      text.substr(text.size() - suffix.size()) != suffix) {
    return 0;
  }
  std::string_view digits = text.substr(prefix.size(), text.size() - prefix.size() - suffix.size());
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc{} && p == digits.data() + digits.size() ? n : 0;
}

// Splits the RAM-typed parts of `table` at [start, end): the part inside gets
// `inside` applied (a new type, or removal when it returns false).
template <typename F>
void edit_range(std::vector<Range>* table, uint64_t start, uint64_t end, uint32_t old_type,
                F inside) {
  std::vector<Range> out;
  for (const Range& r : *table) {
    if (r.type != old_type || r.end <= start || r.start >= end) {
      out.push_back(r);
      continue;
    }
    if (r.start < start) out.push_back({r.start, start, r.type, r.name});
    Range mid{std::max(r.start, start), std::min(r.end, end), r.type, r.name};
    if (inside(&mid)) out.push_back(mid);
    if (r.end > end) out.push_back({end, r.end, r.type, r.name});
  }
  *table = std::move(out);
}

}  // namespace

uint32_t type_of(std::string_view name) {
  if (name == "usable") return kRam;
  if (name == "reserved") return kReserved;
  if (name == "ACPI data") return kAcpi;
  if (name == "ACPI NVS") return kNvs;
  if (name == "unusable") return kUnusable;
  if (name == "soft reserved") return kSoftReserved;
  if (uint32_t n = numbered_type(name, "persistent (type ", ")")) return n;
  if (uint32_t n = numbered_type(name, "type ", "")) return n;
  return kReserved;
}

std::string type_name(uint32_t type) {
  switch (type) {
    case kRam:
      return "usable";
    case kReserved:
      return "reserved";
    case kSoftReserved:
      return "soft reserved";
    case kAcpi:
      return "ACPI data";
    case kNvs:
      return "ACPI NVS";
    case kUnusable:
      return "unusable";
    case kPmem:
    case kPram:
      return "persistent (type " + std::to_string(type) + ")";
    default:
      return "type " + std::to_string(type);
  }
}

std::vector<Range> table_of(const std::vector<E820Entry>& entries) {
  std::vector<Range> table;
  table.reserve(entries.size());
  for (const E820Entry& e : entries) {
    table.push_back({e.range.start, e.range.end, type_of(e.type), e.type});
  }
  return table;
}

std::vector<Range> update_table(const std::vector<Range>& table) {
  std::vector<uint64_t> points;
  for (const Range& r : table) {
    if (r.end <= r.start) continue;
    points.push_back(r.start);
    points.push_back(r.end);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  std::vector<Range> out;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const Range* best = nullptr;
    for (const Range& r : table) {
      if (r.start <= points[i] && r.end >= points[i + 1] && r.end > r.start &&
          (!best || r.type > best->type)) {
        best = &r;
      }
    }
    if (!best) continue;
    if (!out.empty() && out.back().end == points[i] && out.back().type == best->type &&
        out.back().name == best->name) {
      out.back().end = points[i + 1];
    } else {
      out.push_back({points[i], points[i + 1], best->type, best->name});
    }
  }
  return out;
}

void range_update(std::vector<Range>* table, uint64_t start, uint64_t size, uint32_t old_type,
                  uint32_t new_type) {
  edit_range(table, start, start + size, old_type, [new_type](Range* r) {
    r->type = new_type;
    r->name = type_name(new_type);
    return true;
  });
}

void range_remove(std::vector<Range>* table, uint64_t start, uint64_t size, uint32_t old_type) {
  edit_range(table, start, start + size, old_type, [](Range*) { return false; });
}

Pfn end_ram_pfn(const std::vector<Range>& table, Pfn limit_pfn, Pfn max_arch_pfn) {
  Pfn last_pfn = 0;
  for (const Range& r : table) {
    if (r.type != kRam && r.type != kAcpi) continue;
    const Pfn start_pfn = r.start >> kPageShift;
    const Pfn end_pfn = r.end >> kPageShift;
    if (start_pfn >= limit_pfn) continue;
    if (end_pfn > limit_pfn) {
      last_pfn = limit_pfn;
      break;
    }
    last_pfn = std::max(last_pfn, end_pfn);
  }
  return std::min(last_pfn, max_arch_pfn);
}

}  // namespace memd::e820
