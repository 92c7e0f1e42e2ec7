#include "protocol/reply.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "protocol/text.h"

namespace memd::protocol {
namespace {

void append_number(std::string* text, uint64_t n, int base = 10) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n, base);
  (void)ec;  // 20 digits always fit
  text->append(buf, end);
}

// A sysctl value as JSON: a number, an array of numbers (lowmem_reserve_ratio),
// or the text itself if it is neither.
Json sysctl_json(std::string_view value) {
  Json numbers = Json::array();
  size_t i = 0;
  while (i < value.size()) {
    const size_t j = std::min(value.find_first_of(" \t", i), value.size());
    if (j > i) {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(value.data() + i, value.data() + j, n);
      if (ec != std::errc() || end != value.data() + j) return std::string(value);
      numbers.push_back(n);
    }
    i = j + 1;
  }
  if (numbers.size() == 1 && value.find_first_of(" \t") == std::string_view::npos) {
    return numbers[0];
  }
  return numbers;
}

}  // namespace

// --- failures --------------------------------------------------------------------------------

namespace {

struct FailureName {
  Failure failure;
  std::string_view name;
};

constexpr FailureName kFailureNames[] = {
    {Failure::kBadInput, "bad_input"},
    {Failure::kAllocFailed, "alloc_failed"},
    {Failure::kBusy, "busy"},
    {Failure::kDenied, "denied"},
    {Failure::kCheckFailed, "check_failed"},
    {Failure::kIo, "io"},
    {Failure::kInternal, "internal"},
    {Failure::kNotATrace, "not_a_trace"},
    {Failure::kInterrupted, "interrupted"},
};

}  // namespace

std::string_view failure_name(Failure failure) {
  for (const FailureName& f : kFailureNames) {
    if (f.failure == failure) return f.name;
  }
  return "none";
}

Failure failure_named(std::string_view name) {
  for (const FailureName& f : kFailureNames) {
    if (f.name == name) return f.failure;
  }
  return Failure::kNone;
}

// --- Reply -----------------------------------------------------------------------------------

std::string Reply::error_message() const {
  auto it = json.find(field::kError);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

namespace {

// A string nlohmann would write as it is: printable ASCII without '"' or '\\'.
bool plain(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x80 || c == '"' || c == '\\') return false;
  }
  return true;
}

void append_plain_string(std::string* out, std::string_view text) {
  *out += '"';
  *out += text;
  *out += '"';
}

}  // namespace

void append_json(std::string* out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      *out += "null";
      return;
    case Json::value_t::boolean:
      *out += value.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::number_unsigned:
      append_number(out, value.get<uint64_t>());
      return;
    case Json::value_t::number_integer: {
      const auto n = value.get<int64_t>();
      if (n < 0) *out += '-';
      append_number(out, n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n));
      return;
    }
    case Json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (plain(text)) return append_plain_string(out, text);
      break;
    }
    case Json::value_t::array: {
      *out += '[';
      bool first = true;
      for (const Json& item : value) {
        if (!first) *out += ',';
        first = false;
        append_json(out, item);
      }
      *out += ']';
      return;
    }
    case Json::value_t::object: {
      *out += '{';
      bool first = true;
      for (const auto& [key, item] : value.get_ref<const Json::object_t&>()) {
        if (!first) *out += ',';
        first = false;
        if (plain(key)) {
          append_plain_string(out, key);
        } else {
          *out += Json(key).dump(-1, ' ', false, Json::error_handler_t::replace);
        }
        *out += ':';
        append_json(out, item);
      }
      *out += '}';
      return;
    }
    default:
      break;
  }
  // Floats, strings to escape or to check as UTF-8, binary: nlohmann's own.
  *out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Reply::json_line() const {
  std::string line;
  append_json(&line, json);
  line += '\n';
  return line;
}

Reply Reply::error(Failure failure, std::string message) {
  Reply r;
  r.failure = failure;
  r.text = "error: " + message + "\n";
  r.json = Json{{field::kOk, false},
                {field::kError, std::move(message)},
                {field::kFailure, failure_name(failure)}};
  return r;
}

Reply bad_input(std::string message) {
  return Reply::error(Failure::kBadInput, std::move(message));
}

Reply Reply::success(Json body, std::string text) {
  Reply r;
  // "ok" first, then the body's fields in their order: appended as they are,
  // not looked up one by one (the body's keys are distinct already).
  r.json = Json::object();
  auto& fields = r.json.get_ref<Json::object_t&>();
  auto& from = body.get_ref<Json::object_t&>();
  fields.reserve(1 + from.size());
  fields.emplace_back(field::kOk, true);
  for (auto& [k, v] : from) {
    fields.emplace_back(k, std::move(v));
  }
  r.text = std::move(text);
  return r;
}

// --- allocations -----------------------------------------------------------------------------

// Built field by field into a reserved object: nlohmann's initializer-list
// construction builds and inspects a temporary array per pair, the most
// expensive part of an allocation's reply.
Json allocation_json(const AllocationEntry& a) {
  Json j = Json::object();
  auto& fields = j.get_ref<Json::object_t&>();
  fields.reserve(6);
  fields.emplace_back(field::kId, a.id);
  fields.emplace_back(field::kPfn, pfn_text(a.pfn));
  fields.emplace_back(field::kOrder, a.order);
  fields.emplace_back(field::kZone, a.zone);
  fields.emplace_back(field::kNode, a.node);
  fields.emplace_back(field::kMigratetype, a.migratetype);
  return j;
}

namespace {

// "id=7 pfn=0x1f400 order=3 zone=Normal node=0 migratetype=Movable\n",
// appended piece by piece (a format string costs more than the allocation).
void append_allocation_text(std::string* text, const AllocationEntry& a) {
  *text += "id=";
  append_number(text, a.id);
  *text += " pfn=0x";
  append_number(text, a.pfn, 16);
  *text += " order=";
  append_number(text, a.order);
  *text += " zone=";
  *text += a.zone;
  *text += " node=";
  if (a.node < 0) *text += '-';
  append_number(text, static_cast<uint64_t>(std::abs(static_cast<int64_t>(a.node))));
  *text += " migratetype=";
  *text += a.migratetype;
  *text += '\n';
}

}  // namespace

std::string allocation_text(const AllocationEntry& a) {
  std::string text;
  append_allocation_text(&text, a);
  return text;
}

Reply alloc_reply(const std::vector<AllocationEntry>& made, const std::string* failure,
                  bool asked_for_several) {
  Json list = Json::array();
  list.get_ref<Json::array_t&>().reserve(made.size());
  std::string text;
  for (const AllocationEntry& a : made) {
    list.push_back(allocation_json(a));
    append_allocation_text(&text, a);
  }
  if (failure) {
    Reply r = Reply::error(Failure::kAllocFailed, *failure);
    if (asked_for_several) {
      r.json[field::kAllocations] = std::move(list);
      r.text += text;
    }
    return r;
  }
  Json body = Json::object();
  body.get_ref<Json::object_t&>().emplace_back(field::kAllocations, std::move(list));
  return Reply::success(std::move(body), std::move(text));
}

void append_alloc_line(std::string* out, const std::vector<AllocationEntry>& made) {
  *out += R"({"ok":true,"allocations":[)";
  for (size_t i = 0; i < made.size(); ++i) {
    const AllocationEntry& a = made[i];
    *out += i == 0 ? R"({"id":)" : R"(,{"id":)";
    append_number(out, a.id);
    *out += R"(,"pfn":"0x)";
    append_number(out, a.pfn, 16);
    *out += R"(","order":)";
    append_number(out, a.order);
    *out += R"(,"zone":")";
    *out += a.zone;
    *out += R"(","node":)";
    if (a.node < 0) *out += '-';
    append_number(out, static_cast<uint64_t>(std::abs(static_cast<int64_t>(a.node))));
    *out += R"(,"migratetype":")";
    *out += a.migratetype;
    *out += R"("})";
  }
  *out += "]}\n";
}

Reply allocations_reply(const std::vector<AllocationEntry>& listed, uint64_t matched) {
  Json list = Json::array();
  list.get_ref<Json::array_t&>().reserve(listed.size());
  std::string text;
  for (const AllocationEntry& a : listed) {
    list.push_back(allocation_json(a));
    append_allocation_text(&text, a);
  }
  text += fmt::format("{} of {} allocations\n", listed.size(), matched);
  if (matched > listed.size() && !listed.empty()) {
    text +=
        fmt::format("the next ones: allocations after={} (with the same keys)\n", listed.back().id);
  }
  Json body = Json::object();
  auto& fields = body.get_ref<Json::object_t&>();
  fields.emplace_back(field::kAllocations, std::move(list));
  fields.emplace_back(field::kCount, listed.size());
  fields.emplace_back(field::kMatched, matched);
  return Reply::success(std::move(body), std::move(text));
}

Reply memory_reply(const MemoryBlockChange& c) {
  Json body = Json::object();
  auto& fields = body.get_ref<Json::object_t&>();
  fields.emplace_back(field::kBlock, c.block);
  fields.emplace_back(field::kState, c.offline ? "offline" : "online");
  fields.emplace_back(field::kZone, std::string(c.zone));
  fields.emplace_back(field::kPages, c.pages);
  std::string text;
  if (c.offline) {
    fields.emplace_back(field::kMigrated, c.migrated);
    fields.emplace_back(field::kMigratedPages, c.migrated_pages);
    text = fmt::format("memory{}: offline (from {}): {}; {} allocation{} ({} pages) migrated\n",
                       c.block, c.zone, c.message, c.migrated, c.migrated == 1 ? "" : "s",
                       c.migrated_pages);
  } else {
    text = fmt::format("memory{}: online in {}: {}\n", c.block, c.zone, c.message);
  }
  fields.emplace_back(field::kMessage, c.message);
  return Reply::success(std::move(body), std::move(text));
}

Reply memory_failure_reply(Failure failure, std::string message) {
  return Reply::error(failure, std::move(message));
}

Reply free_reply(const std::vector<AllocationEntry>& freed) {
  Json list = Json::array();
  std::string text;
  for (const AllocationEntry& a : freed) {
    list.push_back(allocation_json(a));
    text += "freed " + allocation_text(a);
  }
  return Reply::success(Json{{field::kFreed, std::move(list)}, {field::kCount, freed.size()}},
                        std::move(text));
}

Reply free_all_reply(uint64_t count) {
  return Reply::success(Json{{field::kCount, count}}, fmt::format("freed {} allocations\n", count));
}

// --- the other commands ----------------------------------------------------------------------

Reply sysctl_reply(const std::vector<std::pair<std::string, std::string>>& values) {
  Json obj = Json::object();
  std::string text;
  for (const auto& [name, value] : values) {
    obj[name] = sysctl_json(value);
    text += fmt::format("vm.{} = {}\n", name, value);
  }
  return Reply::success(Json{{field::kSysctl, std::move(obj)}}, std::move(text));
}

Reply trace_reply(const TraceState& t) {
  Json events = Json::array();
  std::string names;
  for (const std::string& e : t.events) {
    events.push_back(e);
    names += (names.empty() ? "" : " ") + e;
  }
  Json body{{"trace",
             {{"events", std::move(events)},
              {"buffer_size_kb", t.buffer_size_kb},
              {"entries", t.entries},
              {"overrun", t.overrun}}}};
  std::string text = fmt::format(
      "events on: {}\nbuffer_size_kb: {}\nentries-in-buffer/entries-written: {}/{}\n",
      names.empty() ? "none" : names, t.buffer_size_kb, t.entries, t.entries + t.overrun);
  return Reply::success(std::move(body), std::move(text));
}

Reply text_reply(std::string text) {
  Json body{{field::kText, text}};
  return Reply::success(std::move(body), std::move(text));
}

Reply reset_reply(const std::string& shape) {
  return Reply::success(Json{{field::kMachine, shape}}, "machine reset: " + shape + "\n");
}

Reply check_reply(const std::vector<std::string>& problems) {
  Json list = Json::array();
  std::string text;
  for (const std::string& p : problems) {
    list.push_back(p);
    text += p + "\n";
  }
  if (problems.empty()) {
    return Reply::success(Json{{field::kProblems, list}}, "ok: every invariant holds\n");
  }
  Reply r = Reply::error(Failure::kCheckFailed,
                         fmt::format("check: {} problem{}: {}", problems.size(),
                                     problems.size() == 1 ? "" : "s", problems.front()));
  r.json[field::kProblems] = std::move(list);
  r.text += text;
  return r;
}

std::string machine_shape(std::string_view arch, uint64_t mib, uint64_t nodes, int cpus) {
  return fmt::format("{}, {} MiB in {} node{}, {} CPU{}", arch, mib, nodes, nodes == 1 ? "" : "s",
                     cpus, cpus == 1 ? "" : "s");
}

}  // namespace memd::protocol
