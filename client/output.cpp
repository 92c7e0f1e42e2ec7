#include "client/output.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace memd::client {
namespace {

// A field as text, whatever its JSON type ("" when absent).
std::string text_of(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

uint64_t number_of(const Json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// Makes sure a message is one line.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
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
    out += fmt::format("{:>8}  {:<12} {:>5}  {:<8} {:>4}  {}\n", text_of(a, "id"),
                       text_of(a, "pfn"), text_of(a, "order"), text_of(a, "zone"),
                       text_of(a, "node"), text_of(a, "migratetype"));
  }
  return out;
}

std::string format_alloc(const Json& reply) {
  auto it = reply.find("allocations");
  if (it == reply.end() || !it->is_array()) return pretty(reply);
  if (it->empty()) return "";
  return format_allocations(*it);
}

std::string format_free(const Json& reply) {
  const uint64_t count = number_of(reply, "count");
  std::string out = fmt::format("freed {} allocation{}\n", count, count == 1 ? "" : "s");
  auto it = reply.find("freed");
  if (it != reply.end() && it->is_array() && !it->empty()) out += format_allocations(*it);
  return out;
}

std::string format_sysctl(const Json& reply) {
  auto it = reply.find("sysctl");
  if (it == reply.end() || !it->is_object()) return pretty(reply);
  std::string out;
  for (const auto& [name, value] : it->items()) {
    std::string v;
    if (value.is_array()) {
      for (const Json& x : value)
        v += (v.empty() ? "" : "\t") + x.dump();
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
  auto m = reply.find("machine");
  if (m == reply.end() || !m->is_object()) return pretty(reply);
  std::string out = fmt::format("memd pid {}: {}\n", text_of(reply, "pid"), text_of(*m, "shape"));
  const std::string cmdline = text_of(*m, "cmdline");
  if (!cmdline.empty()) out += "cmdline: " + cmdline + "\n";
  auto zones = m->find("zones");
  if (zones != m->end() && zones->is_array()) {
    out += fmt::format("{:>4}  {:<8} {:>12} {:>10} {:>10} {:>10} {:>10}\n", "NODE", "ZONE",
                       "START_PFN", "SPANNED", "PRESENT", "MANAGED", "FREE");
    for (const Json& z : *zones) {
      const uint64_t start = number_of(z, "start_pfn");
      out += fmt::format("{:>4}  {:<8} {:>12} {:>10} {:>10} {:>10} {:>10}\n", text_of(z, "node"),
                         text_of(z, "zone"), fmt::format("{:#x}", start), text_of(z, "spanned"),
                         text_of(z, "present"), text_of(z, "managed"), text_of(z, "free"));
    }
  }
  out += "live allocations: " + text_of(reply, "live_allocations") + "\n";
  auto c = reply.find("counters");
  if (c != reply.end() && c->is_object()) {
    std::string line;
    for (const auto& [name, value] : c->items()) {
      line += (line.empty() ? "" : ", ") + name + " " + value.dump();
    }
    out += line + "\n";
  }
  auto r = reply.find("replaying");
  if (r != reply.end() && r->is_boolean()) {
    out += std::string("replay running: ") + (r->get<bool>() ? "yes" : "no") + "\n";
  }
  return out;
}

std::string format_check(const Json& reply) {
  auto p = reply.find("problems");
  const bool ok = reply.value("ok", false);
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

std::string format_reset(const Json& reply) {
  const std::string shape = text_of(reply, "machine");
  return shape.empty() ? std::string("machine reset\n") : "machine reset: " + shape + "\n";
}

std::string format_report(const Json& report) {
  if (!report.is_object()) return pretty(report);
  size_t width = 0;
  for (const auto& [name, value] : report.items()) {
    if (value.is_number()) width = std::max(width, name.size());
  }
  std::string out;
  for (const auto& [name, value] : report.items()) {
    if (value.is_number()) out += fmt::format("  {:<{}}  {:>10}\n", name, width, value.dump());
  }
  auto m = report.find("malformed");
  if (m != report.end() && m->is_array() && !m->empty()) {
    out += fmt::format("malformed or refused lines (the first {}):\n", m->size());
    for (const Json& s : *m) {
      out += fmt::format("  line {}: {}\n", text_of(s, "line"), one_line(text_of(s, "reason")));
    }
  }
  return out;
}

std::string error_message(const Json& reply) {
  std::string e = text_of(reply, "error");
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
