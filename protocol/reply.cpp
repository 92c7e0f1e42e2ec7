#include "protocol/reply.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "protocol/text.h"

namespace memd::protocol {
namespace {

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

std::string Reply::json_line() const {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
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
  r.json = Json{{field::kOk, true}};
  for (auto& [k, v] : body.items()) {
    r.json[k] = std::move(v);
  }
  r.text = std::move(text);
  return r;
}

// --- allocations -----------------------------------------------------------------------------

Json allocation_json(const AllocationEntry& a) {
  return Json{{field::kId, a.id},       {field::kPfn, pfn_text(a.pfn)},
              {field::kOrder, a.order}, {field::kZone, a.zone},
              {field::kNode, a.node},   {field::kMigratetype, a.migratetype}};
}

std::string allocation_text(const AllocationEntry& a) {
  return fmt::format("id={} pfn={} order={} zone={} node={} migratetype={}\n", a.id,
                     pfn_text(a.pfn), a.order, a.zone, a.node, a.migratetype);
}

Reply alloc_reply(const std::vector<AllocationEntry>& made, const std::string* failure,
                  bool asked_for_several) {
  Json list = Json::array();
  std::string text;
  for (const AllocationEntry& a : made) {
    list.push_back(allocation_json(a));
    text += allocation_text(a);
  }
  if (failure) {
    Reply r = Reply::error(Failure::kAllocFailed, *failure);
    if (asked_for_several) {
      r.json[field::kAllocations] = std::move(list);
      r.text += text;
    }
    return r;
  }
  return Reply::success(Json{{field::kAllocations, std::move(list)}}, std::move(text));
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
