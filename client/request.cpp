#include "client/request.h"

#include <cassert>
#include <set>
#include <utility>

namespace memd::client {

std::optional<uint64_t> parse_pfn(std::string_view text) {
  return protocol::parse_uint(text);
}

Result<std::string> alloc_command(const AllocRequest& r) {
  if (auto gfp = quote_value(r.gfp); !gfp) return make_error("--gfp: " + gfp.error().message);
  return protocol::format_command(protocol::AllocCommand{r.order, r.gfp, r.node, r.cpu, r.count});
}

namespace {

Result<protocol::FreeCommand> free_request(const FreeRequest& r) {
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
  return c;
}

// The targets' words as format_command writes them ("id=7", "pfn=0x1f400").
std::vector<std::string> target_words(const protocol::FreeCommand& c) {
  std::vector<std::string> words;
  words.reserve(c.targets.size());
  for (const protocol::FreeTarget& t : c.targets) {
    const std::string line = command_line(protocol::FreeCommand{{t}, false, std::nullopt});
    words.push_back(line.substr(line.find(' ') + 1));
  }
  return words;
}

// The first target that repeats an earlier one, as the grammar names it.
std::optional<std::string> repeated_target(const protocol::FreeCommand& c,
                                           const std::vector<std::string>& words) {
  std::set<std::pair<bool, uint64_t>> seen;
  for (size_t i = 0; i < c.targets.size(); ++i) {
    const bool by_pfn = c.targets[i].kind == protocol::FreeTarget::Kind::kPfn;
    if (!seen.insert({by_pfn, c.targets[i].value}).second) return words[i];
  }
  return std::nullopt;
}

// Cuts the targets into runs whose lines ("free" WORD... [cpu=N] and a
// newline) are at most kMaxCommandBytes.
std::vector<FreePart> cut_free(const protocol::FreeCommand& c,
                               const std::vector<std::string>& words) {
  const size_t cpu = c.cpu ? command_line(protocol::FreeCommand{{}, true, c.cpu}).size() -
                                 command_line(protocol::FreeCommand{{}, true, std::nullopt}).size()
                           : 0;
  const size_t budget = protocol::kMaxCommandBytes - 1 - cpu;  // the newline, " cpu=N"
  std::vector<FreePart> parts;
  auto close_part = [&](size_t first, size_t end) {
    protocol::FreeCommand part{{c.targets.begin() + static_cast<ptrdiff_t>(first),
                                c.targets.begin() + static_cast<ptrdiff_t>(end)},
                               false,
                               c.cpu};
    parts.push_back({command_line(part), first, end - first});
    assert(parts.back().line.size() < protocol::kMaxCommandBytes);
  };
  size_t first = 0, length = std::string_view("free").size();
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > first && length + 1 + words[i].size() > budget) {
      close_part(first, i);
      first = i;
      length = std::string_view("free").size();
    }
    length += 1 + words[i].size();
  }
  close_part(first, words.size());
  return parts;
}

}  // namespace

Result<std::string> free_command(const FreeRequest& r) {
  auto c = free_request(r);
  if (!c) return c.error();
  return protocol::format_command(*c);
}

Result<std::vector<FreePart>> free_commands(const FreeRequest& r) {
  auto c = free_request(r);
  if (!c) return c.error();
  std::string whole = command_line(*c);
  if (whole.size() < protocol::kMaxCommandBytes) {
    return std::vector<FreePart>{{std::move(whole), 0, c->targets.size()}};
  }
  const std::vector<std::string> words = target_words(*c);
  if (auto twice = repeated_target(*c, words)) return make_error(*twice + " given twice");
  return cut_free(*c, words);
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
