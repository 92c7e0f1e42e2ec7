#include "client/request.h"

#include "core/config.h"

#include <charconv>

namespace memd::client {
namespace {

bool is_control(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

std::string hex(uint64_t v) {
  char buf[20];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
  (void)ec;
  return "0x" + std::string(buf, p);
}

}  // namespace

Result<std::string> quote_value(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (is_control(c) && c != '\t') {
      return make_error("control character in '" + std::string(value.substr(0, 40)) + "'");
    }
    if (c == ' ' || c == '\t' || c == '"' || c == '\\') plain = false;
  }
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::optional<uint64_t> parse_pfn(std::string_view text) {
  return parse_uint(text);
}

Result<std::string> alloc_command(const AllocRequest& r) {
  auto gfp = quote_value(r.gfp);
  if (!gfp) return make_error("--gfp: " + gfp.error().message);
  std::string line = "alloc order=" + std::to_string(r.order) + " gfp=" + *gfp;
  if (r.count) line += " count=" + std::to_string(*r.count);
  if (r.cpu) line += " cpu=" + std::to_string(*r.cpu);
  if (r.node) line += " node=" + std::to_string(*r.node);
  return line;
}

Result<std::string> free_command(const FreeRequest& r) {
  if (r.all && (!r.pfns.empty() || !r.ids.empty())) {
    return make_error("--all cannot be combined with PFNs or --id");
  }
  if (!r.all && r.pfns.empty() && r.ids.empty()) {
    return make_error("say what to free: PFN..., --id N... or --all");
  }
  std::string line = "free";
  if (r.all) line += " all";
  for (const std::string& p : r.pfns) {
    auto v = parse_pfn(p);
    if (!v) return make_error("'" + p + "' is not a pfn (decimal or 0x hex)");
    line += " pfn=" + hex(*v);
  }
  for (uint64_t id : r.ids)
    line += " id=" + std::to_string(id);
  if (r.cpu) line += " cpu=" + std::to_string(*r.cpu);
  return line;
}

Result<std::string> sysctl_command(std::string_view arg) {
  if (arg.empty()) return std::string("sysctl");
  const size_t eq = arg.find('=');
  const std::string_view name = arg.substr(0, eq);
  if (name.empty()) return make_error("'" + std::string(arg) + "' has no sysctl name");
  for (char c : name) {
    if (is_control(c) || c == ' ' || c == '\t' || c == '"' || c == '\\') {
      return make_error("'" + std::string(name) + "' is not a sysctl name");
    }
  }
  if (eq == std::string_view::npos) return "sysctl " + std::string(name);
  auto value = quote_value(arg.substr(eq + 1));
  if (!value) return make_error("sysctl value: " + value.error().message);
  return "sysctl " + std::string(name) + "=" + *value;
}

}  // namespace memd::client
