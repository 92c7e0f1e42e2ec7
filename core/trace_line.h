// The line parser of trace replay: the head of an ftrace event line
// ("<task>-<pid> [CPU] <flags> <timestamp>: <event>: <fields>"), the
// "key=value" fields of an event, and the messages for malformed lines.
// Internal to core/trace_replay.cpp and its tests; inline, because the
// replayer calls these for every field of every line (the hot path of a
// replay).
#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/types.h"

namespace memd::trace_line {

// --- scanning helpers ---------------------------------------------------------------------------

inline bool is_space(char c) {
  return c == ' ' || c == '\t';
}
inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

// Part of a line for an error message: printable ASCII kept, other bytes as
// \xNN, cut at `max` bytes.
inline std::string printable(std::string_view s, size_t max = 64) {
  std::string out;
  const bool cut = s.size() > max;
  if (cut) s = s.substr(0, max);
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (cut) out += "...";
  return out;
}

// A position in a line, moving forward. Fields are separated by blanks; a
// token runs to the next space (the kernel never prints tabs inside a line).
struct Cursor {
  const char* p;
  const char* end;

  bool at_end() const { return p == end; }
  void skip_spaces() {
    while (p != end && is_space(*p)) {
      ++p;
    }
  }
  bool consume(std::string_view lit) {
    if (static_cast<size_t>(end - p) < lit.size() || std::memcmp(p, lit.data(), lit.size()) != 0) {
      return false;
    }
    p += lit.size();
    return true;
  }
  // The same for a literal: a compare of known length, inlined.
  template <size_t N>
  [[gnu::always_inline]] bool consume(const char (&lit)[N]) {
    if (static_cast<size_t>(end - p) < N - 1 || std::memcmp(p, lit, N - 1) != 0) return false;
    p += N - 1;
    return true;
  }
  std::string_view token() {
    const char* s = p;
    // Most tokens are short: a loop beats a call to memchr for those.
    const char* stop = end - p > 24 ? p + 24 : end;
    while (p != stop && *p != ' ') {
      ++p;
    }
    if (p == stop && p != end) {
      const void* sp = std::memchr(p, ' ', static_cast<size_t>(end - p));
      p = sp ? static_cast<const char*>(sp) : end;
    }
    return {s, static_cast<size_t>(p - s)};
  }
  std::string_view rest() const { return {p, static_cast<size_t>(end - p)}; }
};

// Hex digit values; -1 for other bytes.
inline constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (size_t i = 0; i < 256; ++i) {
    t[i] = -1;
  }
  for (int i = 0; i < 10; ++i) {
    t['0' + i] = static_cast<int8_t>(i);
  }
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<int8_t>(10 + i);
    t['A' + i] = static_cast<int8_t>(10 + i);
  }
  return t;
}();

// "0x" and 1 to 16 hex digits.
inline bool parse_pfn(std::string_view s, Pfn* out) {
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || s[1] != 'x') return false;
  uint64_t v = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    const int8_t d = kHexValue[static_cast<unsigned char>(s[i])];
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint8_t>(d);
  }
  *out = v;
  return true;
}

// A decimal number that fits T (a leading '-' only for signed T).
template <typename T>
inline bool parse_dec(std::string_view s, T* out) {
  if (s.empty() || s[0] == '+') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, 10);
  return ec == std::errc() && p == s.data() + s.size();
}

// "NNN.NNN:" (or "NNN:" for counter clocks): the timestamp and its colon.
inline bool is_timestamp(std::string_view t) {
  if (t.size() < 2 || t.back() != ':') return false;
  t.remove_suffix(1);
  size_t i = 0;
  while (i < t.size() && is_digit(t[i])) {
    ++i;
  }
  if (i == 0) return false;
  if (i == t.size()) return true;
  if (t[i] != '.') return false;
  size_t j = ++i;
  while (j < t.size() && is_digit(t[j])) {
    ++j;
  }
  return j > i && j == t.size();
}

// The irq-info flags ("d..2.", "....."): a short token of letters, digits and dots.
inline bool is_flags(std::string_view t) {
  if (t.empty() || t.size() > 8) return false;
  for (char c : t) {
    if (!(is_name_char(c) || c == '.') || c == '_') return false;
  }
  return true;
}

// The head of an event line: "<task>-<pid> [CPU] <flags> <timestamp>: <event>: <fields>",
// in the shapes the kernel's `trace` file, `trace-cmd report` (no flags, or
// its own "d..2." column; the event name padded with blanks) and `perf script`
// ("<comm> <pid> [CPU] <timestamp>: kmem:<event>: <fields>") print it.
struct EventHead {
  uint32_t cpu = 0;
  std::string_view task;       // "<comm>-<pid>" with the blanks around it
  std::string_view timestamp;  // "NNN.NNNNNN:"
  std::string_view name;
  Cursor fields{nullptr, nullptr};
};

// Finds the first "[N]" followed by optional flags, a timestamp and "EVENT:"
// then a blank or the end of the line. Task names may hold spaces and
// brackets: a bracket that is not followed by that shape is part of the name.
inline bool match_event(std::string_view line, EventHead* head) {
  const char* const end = line.data() + line.size();
  const char* s = line.data();
  while (s != end) {
    const void* found = std::memchr(s, '[', static_cast<size_t>(end - s));
    if (!found) return false;
    s = static_cast<const char*>(found) + 1;
    Cursor c{s, end};
    const char* digits = c.p;
    while (!c.at_end() && is_digit(*c.p)) {
      ++c.p;
    }
    if (c.p == digits || c.p - digits > 9 || c.at_end() || *c.p != ']') continue;
    uint32_t cpu = 0;
    std::from_chars(digits, c.p, cpu, 10);
    ++c.p;
    if (c.at_end() || !is_space(*c.p)) continue;
    c.skip_spaces();
    std::string_view t = c.token();
    if (!is_timestamp(t)) {
      if (!is_flags(t)) continue;
      c.skip_spaces();
      t = c.token();
      if (!is_timestamp(t)) continue;
    }
    if (c.at_end() || !is_space(*c.p)) continue;
    c.skip_spaces();
    const char* name = c.p;
    while (!c.at_end() && is_name_char(*c.p)) {
      ++c.p;
    }
    if (c.p == name || c.at_end() || *c.p != ':') continue;
    // `perf script` names the event with its system: "kmem:mm_page_alloc:".
    if (c.end - c.p > 1 && is_name_char(c.p[1])) {
      name = ++c.p;
      while (!c.at_end() && is_name_char(*c.p)) {
        ++c.p;
      }
      if (c.at_end() || *c.p != ':') continue;
    }
    head->name = {name, static_cast<size_t>(c.p - name)};
    ++c.p;
    if (!c.at_end() && !is_space(*c.p)) continue;
    head->cpu = cpu;
    head->fields = c;
    head->task = {line.data(), static_cast<size_t>(static_cast<const char*>(found) - line.data())};
    head->timestamp = t;
    return true;
  }
  return false;
}

// The comm and pid of an EventHead's task: ftrace's and trace-cmd's
// "            bash-4433    ", perf script's "            bash  4433 ".
// False when it is neither; *comm is then the whole text, trimmed.
inline bool parse_task(std::string_view task, std::string_view* comm, int32_t* pid) {
  while (!task.empty() && is_space(task.front())) {
    task.remove_prefix(1);
  }
  while (!task.empty() && is_space(task.back())) {
    task.remove_suffix(1);
  }
  *comm = task;
  const size_t sep = task.find_last_of("- ");
  if (sep == std::string_view::npos || !parse_dec(task.substr(sep + 1), pid)) return false;
  std::string_view name = task.substr(0, sep);
  while (task[sep] == ' ' && !name.empty() && is_space(name.back())) {
    name.remove_suffix(1);
  }
  *comm = name;
  return true;
}

// An EventHead's timestamp in ns: "222.995046:" (seconds and a fraction of up
// to 9 digits) or a counter clock's "NNN:" (taken as ns). Saturates.
inline uint64_t timestamp_ns(std::string_view ts) {
  ts.remove_suffix(1);  // ':'
  const size_t dot = ts.find('.');
  uint64_t secs = 0;
  const std::string_view whole = ts.substr(0, dot);
  if (std::from_chars(whole.data(), whole.data() + whole.size(), secs).ec != std::errc()) {
    return ~uint64_t{0};
  }
  if (dot == std::string_view::npos) return secs;
  if (secs > ~uint64_t{0} / 1000000000) return ~uint64_t{0};
  uint64_t frac = 0;
  size_t digits = 0;
  for (char c : ts.substr(dot + 1)) {
    if (digits == 9) break;
    frac = frac * 10 + static_cast<uint64_t>(c - '0');
    ++digits;
  }
  for (; digits < 9; ++digits) {
    frac *= 10;
  }
  return secs * 1000000000 + frac;
}

// "CPU:N [LOST M EVENTS]" (trace and trace_pipe print it when a buffer overran).
inline bool match_lost(std::string_view line, uint64_t* lost) {
  Cursor c{line.data(), line.data() + line.size()};
  if (!c.consume("CPU:")) return false;
  c.skip_spaces();
  uint32_t cpu = 0;
  const char* d = c.p;
  while (!c.at_end() && is_digit(*c.p)) {
    ++c.p;
  }
  if (!parse_dec(std::string_view(d, static_cast<size_t>(c.p - d)), &cpu)) return false;
  c.skip_spaces();
  if (!c.consume("[LOST ")) return false;
  d = c.p;
  while (!c.at_end() && is_digit(*c.p)) {
    ++c.p;
  }
  if (!parse_dec(std::string_view(d, static_cast<size_t>(c.p - d)), lost)) return false;
  if (!c.consume(" EVENTS]")) return false;
  c.skip_spaces();
  return c.at_end();
}

// The events the replay knows, by name.
enum class EventKind : uint8_t { kAlloc, kFree, kFreeBatched, kExtfrag, kOther };

inline EventKind event_kind(std::string_view name) {
  switch (name.size()) {
    case 13:
      if (name == "mm_page_alloc") return EventKind::kAlloc;
      break;
    case 12:
      if (name == "mm_page_free") return EventKind::kFree;
      break;
    case 20:
      if (name == "mm_page_free_batched") return EventKind::kFreeBatched;
      break;
    case 21:
      if (name == "mm_page_alloc_extfrag") return EventKind::kExtfrag;
      break;
    default:
      break;
  }
  return EventKind::kOther;
}

// Reads "key=value" at the cursor (after blanks); false when the key is not there.
template <typename Key>
[[gnu::always_inline]] inline bool field(Cursor* c, const Key& key, std::string_view* value) {
  c->skip_spaces();
  if (!c->consume(key)) return false;
  *value = c->token();
  return true;
}

// Why "key=" was not found at the cursor.
inline std::string missing(std::string_view event, const Cursor& c, std::string_view key) {
  Cursor t = c;
  t.skip_spaces();
  if (t.at_end()) return std::string(event) + ": truncated before " + std::string(key);
  return std::string(event) + ": expected " + std::string(key) + " at '" + printable(t.rest()) +
         "'";
}

inline std::string bad(std::string_view event, std::string_view key, std::string_view value) {
  return std::string(event) + ": bad " + std::string(key) + "'" + printable(value) + "'";
}

inline std::string trailing(std::string_view event, const Cursor& c) {
  return std::string(event) + ": unexpected text at the end: '" + printable(c.rest()) + "'";
}

// Blanks, then the end of the line.
inline bool at_line_end(Cursor* c) {
  c->skip_spaces();
  return c->at_end();
}

}  // namespace memd::trace_line
