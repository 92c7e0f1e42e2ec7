#include "client/output.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "protocol/reply.h"

namespace memd::client {
namespace {

namespace field = protocol::field;

using protocol::text_of;

uint64_t number_of(const Json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// Makes sure a message is one line.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') {
    s.pop_back();
  }
  return s;
}

std::string pretty(const Json& j) {
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

// "1.2M", "350k", "12"
std::string short_count(double v) {
  if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
  if (v >= 1e4) return fmt::format("{:.0f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

}  // namespace

std::string format_allocations(const Json& list) {
  if (!list.is_array()) return pretty(list);
  std::string out = fmt::format("{:>8}  {:<12} {:>5}  {:<8} {:>4}  {}\n", "ID", "PFN", "ORDER",
                                "ZONE", "NODE", "MIGRATETYPE");
  for (const Json& a : list) {
    out += fmt::format("{:>8}  {:<12} {:>5}  {:<8} {:>4}  {}\n", text_of(a, field::kId),
                       text_of(a, field::kPfn), text_of(a, field::kOrder), text_of(a, field::kZone),
                       text_of(a, field::kNode), text_of(a, field::kMigratetype));
  }
  return out;
}

std::string format_alloc(const Json& reply) {
  auto it = reply.find(field::kAllocations);
  if (it == reply.end() || !it->is_array()) return pretty(reply);
  if (it->empty()) return "";
  return format_allocations(*it);
}

std::string format_free(const Json& reply) {
  const uint64_t count = number_of(reply, field::kCount);
  std::string out = fmt::format("freed {} allocation{}\n", count, count == 1 ? "" : "s");
  auto it = reply.find(field::kFreed);
  if (it != reply.end() && it->is_array() && !it->empty()) out += format_allocations(*it);
  return out;
}

std::string format_allocation_list(const Json& reply) {
  auto it = reply.find(field::kAllocations);
  if (it == reply.end() || !it->is_array()) return pretty(reply);
  const uint64_t count = number_of(reply, field::kCount);
  const uint64_t matched = number_of(reply, field::kMatched);
  std::string out = it->empty() ? "" : format_allocations(*it);
  out += fmt::format("{} of {} allocation{}\n", count, matched, matched == 1 ? "" : "s");
  if (matched > count && !it->empty()) {
    out += fmt::format("the next ones: --after {}\n", text_of(it->back(), field::kId));
  }
  return out;
}

std::string format_memory(const Json& reply) {
  if (!reply.contains(field::kBlock)) return pretty(reply);
  const std::string block = text_of(reply, field::kBlock);
  const std::string zone = text_of(reply, field::kZone);
  const std::string message = text_of(reply, field::kMessage);
  if (text_of(reply, field::kState) != "offline") {
    return fmt::format("memory{}: online in {}: {}\n", block, zone, message);
  }
  const uint64_t migrated = number_of(reply, field::kMigrated);
  return fmt::format("memory{}: offline (from {}): {}; {} allocation{} ({} pages) migrated\n",
                     block, zone, message, migrated, migrated == 1 ? "" : "s",
                     number_of(reply, field::kMigratedPages));
}

std::string format_sysctl(const Json& reply) {
  auto it = reply.find(field::kSysctl);
  if (it == reply.end() || !it->is_object()) return pretty(reply);
  std::string out;
  for (const auto& [name, value] : it->items()) {
    std::string v;
    if (value.is_array()) {
      for (const Json& x : value) {
        v += (v.empty() ? "" : "\t") + x.dump();
      }
    } else if (value.is_string()) {
      v = value.get<std::string>();
    } else {
      v = value.dump();
    }
    out += fmt::format("vm.{} = {}\n", name, v);
  }
  return out;
}

std::string format_status(const Json& reply) {
  auto m = reply.find(field::kMachine);
  if (m == reply.end() || !m->is_object()) return pretty(reply);
  std::string out =
      fmt::format("memd pid {}: {}\n", text_of(reply, field::kPid), text_of(*m, field::kShape));
  const std::string cmdline = text_of(*m, field::kCmdline);
  if (!cmdline.empty()) out += "cmdline: " + cmdline + "\n";
  auto zones = m->find(field::kZones);
  if (zones != m->end() && zones->is_array()) {
    out += fmt::format("{:>4}  {:<8} {:>12} {:>10} {:>10} {:>10} {:>10}\n", "NODE", "ZONE",
                       "START_PFN", "SPANNED", "PRESENT", "MANAGED", "FREE");
    for (const Json& z : *zones) {
      const uint64_t start = number_of(z, field::kStartPfn);
      out += fmt::format(
          "{:>4}  {:<8} {:>12} {:>10} {:>10} {:>10} {:>10}\n", text_of(z, field::kNode),
          text_of(z, field::kZone), fmt::format("{:#x}", start), text_of(z, field::kSpanned),
          text_of(z, field::kPresent), text_of(z, field::kManaged), text_of(z, field::kFree));
    }
  }
  out += "live allocations: " + text_of(reply, field::kLiveAllocations) + "\n";
  auto c = reply.find(field::kCounters);
  if (c != reply.end() && c->is_object()) {
    std::string line;
    for (const auto& [name, value] : c->items()) {
      line += (line.empty() ? "" : ", ") + name + " " + value.dump();
    }
    out += line + "\n";
  }
  auto r = reply.find(field::kReplaying);
  if (r != reply.end() && r->is_boolean()) {
    out += std::string("replay running: ") + (r->get<bool>() ? "yes" : "no") + "\n";
  }
  return out;
}

std::string format_check(const Json& reply) {
  auto p = reply.find(field::kProblems);
  const bool ok = reply.value(field::kOk, false);
  if (ok && (p == reply.end() || !p->is_array() || p->empty())) {
    return "ok: every invariant holds\n";
  }
  std::string out;
  if (p != reply.end() && p->is_array()) {
    for (const Json& problem : *p) {
      out += (problem.is_string() ? problem.get<std::string>() : problem.dump()) + "\n";
    }
  }
  return out;
}

std::string format_trace(const Json& reply) {
  auto t = reply.find("trace");
  if (t == reply.end() || !t->is_object()) return pretty(reply);
  std::string events;
  for (const Json& e : t->value("events", Json::array())) {
    events += (events.empty() ? "" : " ") + (e.is_string() ? e.get<std::string>() : e.dump());
  }
  const uint64_t entries = t->value("entries", uint64_t{0});
  return "events on: " + (events.empty() ? std::string("none") : events) +
         "\nbuffer_size_kb: " + std::to_string(t->value("buffer_size_kb", uint64_t{0})) +
         "\nentries-in-buffer/entries-written: " + std::to_string(entries) + "/" +
         std::to_string(entries + t->value("overrun", uint64_t{0})) + "\n";
}

std::string format_reset(const Json& reply) {
  const std::string shape = text_of(reply, field::kMachine);
  return shape.empty() ? std::string("machine reset\n") : "machine reset: " + shape + "\n";
}

std::string format_report(const Json& report) {
  return protocol::report_text(report);
}

std::string error_message(const Json& reply) {
  std::string e = text_of(reply, field::kError);
  if (e.empty()) e = "memd refused the command: " + reply.dump();
  return one_line(std::move(e));
}

std::string progress_line(const std::string& name, uint64_t done, uint64_t total, uint64_t lines,
                          double seconds, int width) {
  const double fraction =
      total == 0 ? 0.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const std::string rate =
      seconds > 0 ? "  " + short_count(static_cast<double>(lines) / seconds) + " lines/s" : "";
  const std::string tail =
      fmt::format(" {:3.0f}%  {} lines{}", std::floor(fraction * 100), lines, rate);
  std::string label = "replay " + name;
  // The bar takes what is left, between 10 and 40 columns; the name is cut to fit.
  const int room = width - static_cast<int>(tail.size()) - 3;
  int bar = std::clamp(room - static_cast<int>(label.size()), 10, 40);
  if (static_cast<int>(label.size()) > room - bar) {
    label.resize(static_cast<size_t>(std::max(0, room - bar)));
  }
  const int filled = static_cast<int>(fraction * bar);
  std::string out = label + " [" + std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(bar - filled), '.') + "]" + tail;
  if (static_cast<int>(out.size()) > width && width > 0) out.resize(static_cast<size_t>(width));
  return out;
}

}  // namespace memd::client
