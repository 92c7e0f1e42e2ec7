#include "client/history.h"

#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

namespace memd::client {
namespace {

constexpr size_t kColumns = kHistoryColumns.size();
constexpr int kMaxNode = 1023;  // MAX_NUMNODES with NODES_SHIFT=10

// Column indices.
constexpr size_t kEvent = 0, kNode = 1, kZone = 2, kFreePages = 3, kFree0 = 4, kType0 = 15,
                 kUnusable9 = 20, kUnusable10 = 21, kClaims = 22, kSteals = 23, kFailures = 24;

constexpr std::array<std::string_view, 6> kZoneNames = {"DMA",     "DMA32",   "Normal",
                                                        "HighMem", "Movable", "Device"};

// Where in which file, for messages: "h.csv:7".
std::string where(const std::string& name, size_t line) {
  return name + ":" + std::to_string(line);
}

// A field as the message quotes it: at most 40 bytes, printable ASCII.
std::string quoted(std::string_view field) {
  std::string s = "'";
  for (char c : field.substr(0, 40)) {
    s += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return s + (field.size() > 40 ? "...'" : "'");
}

// The comma-separated fields of `line`, at most kColumns + 1 of them (a
// count above kColumns is all a message needs to know).
size_t split(std::string_view line, std::array<std::string_view, kColumns + 1>* fields) {
  size_t n = 0;
  for (;;) {
    const size_t comma = line.find(',');
    if (n == kColumns) {
      (*fields)[n++] = line;
      return n;
    }
    (*fields)[n++] = line.substr(0, comma);
    if (comma == std::string_view::npos) return n;
    line.remove_prefix(comma + 1);
  }
}

// The number of columns on a line (all of them, for the message).
size_t count_columns(std::string_view line) {
  size_t n = 1;
  for (char c : line) {
    n += c == ',' ? 1 : 0;
  }
  return n;
}

std::optional<uint64_t> parse_count(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// An unusable index as the kernel prints it ("0.123"): between 0 and 1.
std::optional<double> parse_index(std::string_view s) {
  double v = 0;
  if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v > 1) {
    return std::nullopt;
  }
  return v;
}

Status check_header(std::string_view line, const std::string& name) {
  std::array<std::string_view, kColumns + 1> fields;
  const size_t n = split(line, &fields);
  for (size_t i = 0; i < kColumns; ++i) {
    if (i >= n || fields[i] != kHistoryColumns[i]) {
      return make_error(where(name, 1) + ": not a replay history: column " + std::to_string(i + 1) +
                        " of the header is " + (i < n ? quoted(fields[i]) : "missing") +
                        " where '" + std::string(kHistoryColumns[i]) +
                        "' belongs (the header is event,node,zone,free_pages,free_0,...," +
                        "alloc_failures)");
    }
  }
  if (n > kColumns) {
    return make_error(where(name, 1) + ": not a replay history: the header has " +
                      std::to_string(count_columns(line)) + " columns, not " +
                      std::to_string(kColumns));
  }
  return {};
}

// One row's fields, parsed; the file's name and the line number are for messages.
class RowParser {
 public:
  RowParser(const std::array<std::string_view, kColumns + 1>& fields, const std::string& name,
            size_t line)
      : fields_(fields), name_(name), line_(line) {}

  Result<uint64_t> count(size_t column) const {
    auto v = parse_count(fields_[column]);
    if (!v) return bad(column, "not a number (a count: digits only)");
    return *v;
  }
  Result<double> index(size_t column) const {
    auto v = parse_index(fields_[column]);
    if (!v) return bad(column, "not an unusable index (a number from 0 to 1, like 0.123)");
    return *v;
  }
  Result<int> node() const {
    auto v = parse_count(fields_[kNode]);
    if (!v || *v > kMaxNode) return bad(kNode, "not a node number (0 to 1023)");
    return static_cast<int>(*v);
  }
  Result<std::string> zone() const {
    if (zone_rank(fields_[kZone]) < 0) {
      return bad(kZone, "not a zone (DMA, DMA32, Normal, HighMem, Movable or Device)");
    }
    return std::string(fields_[kZone]);
  }

 private:
  Error bad(size_t column, const std::string& why) const {
    const std::string_view f = fields_[column];
    return make_error(where(name_, line_) + ": " + std::string(kHistoryColumns[column]) + " is " +
                      (f.empty() ? std::string("empty") : quoted(f)) + ", " + why);
  }
  const std::array<std::string_view, kColumns + 1>& fields_;
  const std::string& name_;
  size_t line_;
};

// The counts of a row, from column `first` on, into `out`.
template <size_t N>
Status parse_counts(const RowParser& p, size_t first, std::array<uint64_t, N>* out) {
  for (size_t i = 0; i < N; ++i) {
    auto v = p.count(first + i);
    if (!v) return v.error();
    (*out)[i] = *v;
  }
  return {};
}

Status parse_scalars(const RowParser& p, HistoryRow* row) {
  const std::pair<size_t, uint64_t*> counts[] = {{kEvent, &row->event},
                                                 {kFreePages, &row->free_pages},
                                                 {kClaims, &row->extfrag_claims},
                                                 {kSteals, &row->extfrag_steals},
                                                 {kFailures, &row->alloc_failures}};
  for (const auto& [column, dest] : counts) {
    auto v = p.count(column);
    if (!v) return v.error();
    *dest = *v;
  }
  for (const auto& [column, dest] :
       {std::pair{kUnusable9, &row->unusable_9}, std::pair{kUnusable10, &row->unusable_10}}) {
    auto v = p.index(column);
    if (!v) return v.error();
    *dest = *v;
  }
  return {};
}

// What one line holds: its zone and the row.
struct ParsedLine {
  int node = 0;
  std::string zone;
  HistoryRow row;
};

Result<ParsedLine> parse_line(std::string_view line, const std::string& name, size_t lineno) {
  if (line.empty()) return make_error(where(name, lineno) + ": an empty line, not a row");
  std::array<std::string_view, kColumns + 1> fields;
  if (split(line, &fields) != kColumns) {
    return make_error(where(name, lineno) + ": " + std::to_string(count_columns(line)) +
                      " columns where the header has " + std::to_string(kColumns));
  }
  const RowParser p(fields, name, lineno);
  ParsedLine out;
  auto node = p.node();
  if (!node) return node.error();
  auto zone = p.zone();
  if (!zone) return zone.error();
  out.node = *node;
  out.zone = std::move(*zone);
  if (auto s = parse_scalars(p, &out.row); !s) return s.error();
  if (auto s = parse_counts(p, kFree0, &out.row.free_blocks); !s) return s.error();
  if (auto s = parse_counts(p, kType0, &out.row.pageblocks); !s) return s.error();
  return out;
}

// Takes the next line off `text` (without its "\n" or "\r\n").
std::string_view next_line(std::string_view* text) {
  const size_t nl = text->find('\n');
  std::string_view line = text->substr(0, nl);
  text->remove_prefix(nl == std::string_view::npos ? text->size() : nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Adds a parsed line to its zone's series.
class HistoryBuilder {
 public:
  explicit HistoryBuilder(const std::string& name) { h_.name = name; }

  Status add(ParsedLine&& p, size_t lineno) {
    if (rows_ > 0 && p.row.event < h_.last_event) {
      return make_error(where(h_.name, lineno) + ": event " + std::to_string(p.row.event) +
                        " comes after event " + std::to_string(h_.last_event) +
                        " (events never go back)");
    }
    if (rows_ == 0) h_.first_event = p.row.event;
    h_.last_event = p.row.event;
    ++rows_;
    auto [it, fresh] = index_.try_emplace({p.node, p.zone}, h_.zones.size());
    if (fresh) h_.zones.push_back(ZoneHistory{p.node, std::move(p.zone), {}});
    h_.zones[it->second].rows.push_back(p.row);
    return {};
  }
  size_t rows() const { return rows_; }
  History take() { return std::move(h_); }

 private:
  History h_;
  std::map<std::pair<int, std::string>, size_t> index_;  // zone -> its index in h_.zones
  size_t rows_ = 0;
};

}  // namespace

int zone_rank(std::string_view zone) {
  for (size_t i = 0; i < kZoneNames.size(); ++i) {
    if (kZoneNames[i] == zone) return static_cast<int>(i);
  }
  return -1;
}

Result<History> parse_history(std::string_view text, const std::string& name) {
  if (text.empty()) {
    return make_error(name + ": empty, not a replay history (its first line is the header " +
                      "event,node,zone,...)");
  }
  if (auto s = check_header(next_line(&text), name); !s) return s.error();
  HistoryBuilder b(name);
  for (size_t lineno = 2; !text.empty(); ++lineno) {
    auto parsed = parse_line(next_line(&text), name, lineno);
    if (!parsed) return parsed.error();
    if (auto s = b.add(std::move(*parsed), lineno); !s) return s.error();
  }
  if (b.rows() == 0) return make_error(name + ": a header and no rows, nothing to plot");
  return b.take();
}

}  // namespace memd::client
