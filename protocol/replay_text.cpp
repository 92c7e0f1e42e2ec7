// A replay's report and the line before it, for humans: one text for memctl
// and for memd's batch mode.
#include <algorithm>

#include <fmt/format.h>

#include "protocol/reply.h"

namespace memd::protocol {
std::string text_of(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

namespace {

// Makes sure a message is one line.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') {
    s.pop_back();
  }
  return s;
}

}  // namespace

void add_history(Reply* reply, std::string rows) {
  reply->json[field::kHistory] = std::move(rows);
}

std::string report_text(const Json& report) {
  if (!report.is_object()) {
    return report.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  }
  size_t width = 0;
  for (const auto& [name, value] : report.items()) {
    if (value.is_number()) width = std::max(width, name.size());
  }
  std::string out;
  for (const auto& [name, value] : report.items()) {
    if (value.is_number()) out += fmt::format("  {:<{}}  {:>10}\n", name, width, value.dump());
  }
  // What two counters mean, said where they are not zero.
  auto count = [&](const char* name) {
    auto it = report.find(name);
    return it != report.end() && it->is_number_unsigned() ? it->get<uint64_t>() : uint64_t{0};
  };
  if (count("skipped_batched") > 0) {
    out += fmt::format(
        "skipped_batched: {} mm_page_free_batched lines repeat the mm_page_free of the same "
        "page just before them (the kernel traces both for one free): duplicates, not lost "
        "data\n",
        count("skipped_batched"));
  }
  if (count("failed_allocs") > 0) {
    out += fmt::format(
        "failed_allocs: {} allocations of the trace failed on the emulated machine, the first "
        "at line {}\n",
        count("failed_allocs"), count("first_failed_alloc_line"));
  }
  auto m = report.find(field::kMalformed);
  if (m != report.end() && m->is_array() && !m->empty()) {
    out += fmt::format("malformed or refused lines (the first {}):\n", m->size());
    for (const Json& s : *m) {
      out += fmt::format("  line {}: {}\n", text_of(s, field::kLine),
                         one_line(text_of(s, field::kReason)));
    }
  }
  return out;
}

std::string replay_headline(const ReplayHeadline& h) {
  if (h.interrupted) {
    return fmt::format("replay of {} interrupted after {} lines in {:.2f} s\n", h.path, h.lines,
                       h.seconds);
  }
  if (h.continued) {
    return fmt::format(
        "replayed {}, continuing the previous replay: {} lines in all, this part in {:.2f} s\n",
        h.path, h.lines, h.seconds);
  }
  return fmt::format("replayed {}: {} lines in {:.2f} s\n", h.path, h.lines, h.seconds);
}

}  // namespace memd::protocol
