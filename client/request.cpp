#include "client/request.h"

#include <cassert>

namespace memd::client {

std::optional<uint64_t> parse_pfn(std::string_view text) {
  return protocol::parse_uint(text);
}

Result<std::string> alloc_command(const AllocRequest& r) {
  if (auto gfp = quote_value(r.gfp); !gfp) return make_error("--gfp: " + gfp.error().message);
  return protocol::format_command(protocol::AllocCommand{r.order, r.gfp, r.node, r.cpu, r.count});
}

Result<std::string> free_command(const FreeRequest& r) {
  if (r.all && (!r.pfns.empty() || !r.ids.empty())) {
    return make_error("--all cannot be combined with PFNs or --id");
  }
  if (!r.all && r.pfns.empty() && r.ids.empty()) {
    return make_error("say what to free: PFN..., --id N... or --all");
  }
  protocol::FreeCommand c;
  c.all = r.all;
  c.cpu = r.cpu;
  using Kind = protocol::FreeTarget::Kind;
  for (const std::string& p : r.pfns) {
    auto v = parse_pfn(p);
    if (!v) return make_error("'" + p + "' is not a pfn (decimal or 0x hex)");
    c.targets.push_back({Kind::kPfn, *v});
  }
  for (uint64_t id : r.ids) {
    c.targets.push_back({Kind::kId, id});
  }
  return protocol::format_command(c);
}

Result<std::string> sysctl_command(std::string_view arg) {
  if (arg.empty()) return protocol::format_command(protocol::SysctlCommand{});
  const size_t eq = arg.find('=');
  const std::string name(arg.substr(0, eq));
  if (name.empty()) return make_error("'" + std::string(arg) + "' has no sysctl name");
  for (char c : name) {
    const bool control = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    if (control || c == ' ' || c == '\t' || c == '"' || c == '\\') {
      return make_error("'" + name + "' is not a sysctl name");
    }
  }
  protocol::SysctlCommand c{name, std::nullopt};
  if (eq != std::string_view::npos) {
    c.value = std::string(arg.substr(eq + 1));
    if (auto value = quote_value(*c.value); !value) {
      return make_error("sysctl value: " + value.error().message);
    }
  }
  return protocol::format_command(c);
}

Result<std::string> trace_command(const std::vector<std::string>& words) {
  std::string line = "trace";
  for (const std::string& w : words) {
    line += " " + w;
  }
  auto command = protocol::parse_command(line);
  if (!command) return command.error();
  return protocol::format_command(*command);
}

std::string command_line(const protocol::Command& command) {
  auto line = protocol::format_command(command);
  assert(line.ok());  // nothing to quote, nothing to refuse
  return line.ok() ? *line : std::string();
}

}  // namespace memd::client
