#include "daemon/command.h"

#include "core/config.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>

#include <fmt/format.h>

namespace memd {
namespace {

// One word of a command line: `key=value`, or a bare word (`all`, a file name).
struct Token {
  std::string key;  // empty for a bare word
  std::string value;
  bool has_key = false;
  std::string text() const { return has_key ? key + "=" + value : value; }
};

std::string quoted(std::string_view s) {
  return fmt::format("'{}'", s);
}

// Splits on blanks; double quotes group ("file=\"/tmp/a b\""), backslash escapes inside them.
Result<std::vector<Token>> tokenize(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
      ++i;
    }
    if (i == line.size()) break;
    std::string word;
    bool has_eq = false;
    Token t;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      char c = line[i++];
      if (c == '"') {
        bool closed = false;
        while (i < line.size()) {
          char q = line[i++];
          if (q == '"') {
            closed = true;
            break;
          }
          if (q == '\\' && i < line.size()) q = line[i++];
          word += q;
        }
        if (!closed) return make_error("unterminated quote in " + quoted(line));
      } else if (c == '=' && !has_eq) {
        has_eq = true;
        t.key = word;
        word.clear();
      } else {
        word += c;
      }
    }
    t.has_key = has_eq;
    t.value = std::move(word);
    if (t.has_key && t.key.empty()) return make_error("'=" + t.value + "' has no key");
    out.push_back(std::move(t));
  }
  return out;
}

// The key=value words of one command, each used at most once.
class Args {
 public:
  Args(std::string_view verb, std::string_view usage, std::vector<Token> tokens)
      : verb_(verb), usage_(usage), tokens_(std::move(tokens)) {}

  Error error(std::string_view what) const {
    return make_error(fmt::format("{}: {} (usage: {})", verb_, what, usage_));
  }

  // Checks that every word is key=value with a key from `known` (or one of the
  // bare words allowed), no key or word twice except the keys in `repeatable`.
  Status check_keys(std::initializer_list<std::string_view> known,
                    std::initializer_list<std::string_view> repeatable = {},
                    std::initializer_list<std::string_view> bare = {}) const {
    auto in = [](std::initializer_list<std::string_view> list, std::string_view s) {
      for (auto k : list) {
        if (k == s) return true;
      }
      return false;
    };
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const Token& t = tokens_[i];
      if (!t.has_key && !in(bare, t.value)) {
        return error(fmt::format("{} is not key=value", quoted(t.value)));
      }
      if (t.has_key && !in(known, t.key)) {
        return error(fmt::format("unknown key {}", quoted(t.key)));
      }
      if (t.has_key && in(repeatable, t.key)) continue;
      for (size_t j = 0; j < i; ++j) {
        if (tokens_[j].has_key == t.has_key &&
            (t.has_key ? tokens_[j].key == t.key : tokens_[j].value == t.value)) {
          return error(fmt::format("{} given twice", quoted(t.has_key ? t.key : t.value)));
        }
      }
    }
    return {};
  }

  const Token* find(std::string_view key) const {
    for (const Token& t : tokens_) {
      if (t.has_key && t.key == key) return &t;
    }
    return nullptr;
  }

  // key=N with lo <= N <= hi; nullopt when absent.
  Result<std::optional<uint64_t>> number(std::string_view key, uint64_t lo, uint64_t hi) const {
    const Token* t = find(key);
    if (!t) return std::optional<uint64_t>{};
    return number_of(*t, lo, hi);
  }

  Result<std::optional<uint64_t>> number_of(const Token& t, uint64_t lo, uint64_t hi) const {
    auto v = parse_uint(t.value);
    if (!v) return error(fmt::format("{}: not a number", t.text()));
    if (*v < lo || *v > hi) {
      return error(fmt::format("{}: must be in {}..{}", t.text(), lo, hi));
    }
    return std::optional<uint64_t>{*v};
  }

  Result<uint64_t> required(std::string_view key, uint64_t lo, uint64_t hi) const {
    auto v = number(key, lo, hi);
    if (!v) return v.error();
    if (!*v) return error(fmt::format("missing {}=", key));
    return **v;
  }

  const std::vector<Token>& tokens() const { return tokens_; }
  std::string_view verb() const { return verb_; }

 private:
  std::string_view verb_;
  std::string_view usage_;
  std::vector<Token> tokens_;
};

constexpr uint64_t kMaxCpu = 8191;
constexpr uint64_t kMaxNode = kMaxNumNodes - 1;

Result<Command> parse_alloc(const Args& a) {
  if (auto st = a.check_keys({"order", "gfp", "node", "cpu", "count"}); !st) return st.error();
  AllocCommand c;
  auto order = a.required("order", 0, kMaxPageOrder);
  if (!order) return order.error();
  c.order = static_cast<unsigned>(*order);
  const Token* gfp = a.find("gfp");
  if (!gfp) return a.error("missing gfp=");
  auto flags = parse_gfp(gfp->value);
  if (!flags) return a.error(fmt::format("{}: {}", gfp->text(), flags.error().message));
  c.gfp = *flags;
  auto node = a.number("node", 0, kMaxNode);
  if (!node) return node.error();
  if (*node) c.node = static_cast<int>(**node);
  auto cpu = a.number("cpu", 0, kMaxCpu);
  if (!cpu) return cpu.error();
  c.cpu = static_cast<int>(cpu->value_or(0));
  auto count = a.number("count", 1, kMaxAllocCount);
  if (!count) return count.error();
  c.count = count->value_or(1);
  return Command{c};
}

Result<Command> parse_free(const Args& a) {
  if (auto st = a.check_keys({"pfn", "id", "cpu"}, {"pfn", "id"}, {"all"}); !st) return st.error();
  FreeCommand c;
  auto cpu = a.number("cpu", 0, kMaxCpu);
  if (!cpu) return cpu.error();
  c.cpu = static_cast<int>(cpu->value_or(0));
  for (const Token& t : a.tokens()) {
    if (!t.has_key) {
      c.all = true;
      continue;
    }
    if (t.key == "cpu") continue;
    auto v = parse_uint(t.value);
    if (!v) return a.error(fmt::format("{}: not a number", t.text()));
    FreeTarget target{t.key == "pfn" ? FreeTarget::Kind::kPfn : FreeTarget::Kind::kId, *v};
    for (const FreeTarget& other : c.targets) {
      if (other == target) return a.error(fmt::format("{} given twice", t.text()));
    }
    c.targets.push_back(target);
  }
  if (c.all && !c.targets.empty()) return a.error("'all' cannot be combined with pfn= or id=");
  if (!c.all && c.targets.empty()) return a.error("nothing to free");
  return Command{c};
}

Result<Command> parse_sysctl(const Args& a) {
  SysctlCommand c;
  if (a.tokens().size() > 1) return a.error("one sysctl at a time");
  if (a.tokens().empty()) return Command{c};
  const Token& t = a.tokens().front();
  c.name = t.has_key ? t.key : t.value;
  for (std::string_view prefix : {"vm.", "vm/"}) {
    if (c.name.compare(0, prefix.size(), prefix) == 0) c.name.erase(0, prefix.size());
  }
  if (c.name.empty()) return a.error("empty sysctl name");
  if (t.has_key) {
    // Lists (lowmem_reserve_ratio) may be written 256,256,32 on one word;
    // the kernel reads them blank-separated.
    c.value = t.value;
    std::replace(c.value->begin(), c.value->end(), ',', ' ');
  }
  return Command{c};
}

Result<Command> parse_show(const Args& a) {
  if (a.tokens().size() != 1) return a.error("name one file");
  const Token& t = a.tokens().front();
  if (t.has_key && t.key != "file") return a.error(fmt::format("unknown key {}", quoted(t.key)));
  return Command{ShowCommand{t.value}};
}

Result<Command> parse_replay(const Args& a) {
  if (a.tokens().empty()) return a.error("say file=PATH, begin, data bytes=N, end or abort");
  const Token& first = a.tokens().front();
  ReplayCommand c{};
  if (first.has_key) {
    if (first.key != "file") return a.error(fmt::format("unknown key {}", quoted(first.key)));
    if (a.tokens().size() > 1) {
      return a.error(fmt::format("unexpected {}", quoted(a.tokens()[1].text())));
    }
    if (first.value.empty() || first.value[0] != '/') {
      return a.error("file= needs an absolute path (memd's working directory is not yours)");
    }
    c.op = ReplayCommand::Op::kFile;
    c.path = first.value;
    return Command{c};
  }
  const std::vector<Token> rest(a.tokens().begin() + 1, a.tokens().end());
  if (first.value == "data") {
    const Args args(a.verb(), "replay data bytes=N", rest);
    if (auto st = args.check_keys({"bytes"}); !st) return st.error();
    auto bytes = args.required("bytes", 0, kMaxReplayFrameBytes);
    if (!bytes) return bytes.error();
    c.op = ReplayCommand::Op::kData;
    c.bytes = *bytes;
    return Command{c};
  }
  if (first.value == "begin") {
    c.op = ReplayCommand::Op::kBegin;
  } else if (first.value == "end") {
    c.op = ReplayCommand::Op::kEnd;
  } else if (first.value == "abort") {
    c.op = ReplayCommand::Op::kAbort;
  } else {
    return a.error(fmt::format("unknown step {}", quoted(first.value)));
  }
  if (!rest.empty()) return a.error(fmt::format("unexpected {}", quoted(rest.front().text())));
  return Command{c};
}

Result<Command> parse_snapshot(const Args& a) {
  if (a.tokens().empty() || a.tokens().front().has_key) return a.error("say save or load bytes=N");
  const Token& first = a.tokens().front();
  const std::vector<Token> rest(a.tokens().begin() + 1, a.tokens().end());
  if (first.value == "save") {
    if (!rest.empty()) return a.error(fmt::format("unexpected {}", quoted(rest.front().text())));
    return Command{SnapshotCommand{SnapshotCommand::Op::kSave, 0}};
  }
  if (first.value != "load") return a.error(fmt::format("unknown step {}", quoted(first.value)));
  const Args args(a.verb(), "snapshot load bytes=N", rest);
  if (auto st = args.check_keys({"bytes"}); !st) return st.error();
  auto bytes = args.required("bytes", 1, kMaxSnapshotBytes);
  if (!bytes) return bytes.error();
  return Command{SnapshotCommand{SnapshotCommand::Op::kLoad, *bytes}};
}

template <typename T>
Result<Command> no_arguments(const Args& a) {
  if (!a.tokens().empty()) {
    return a.error(fmt::format("takes no arguments, got {}", quoted(a.tokens().front().text())));
  }
  return Command{T{}};
}

struct Verb {
  std::string_view name;
  std::string_view usage;
  Result<Command> (*parse)(const Args&);
};

constexpr Verb kVerbs[] = {
    {"alloc", "alloc order=N gfp=FLAGS [node=N] [cpu=N] [count=N]", parse_alloc},
    {"free", "free pfn=P... | id=N... | all [cpu=C]", parse_free},
    {"sysctl", "sysctl | sysctl NAME | sysctl NAME=VALUE", parse_sysctl},
    {"show", "show FILE", parse_show},
    {"replay", "replay file=PATH | begin | data bytes=N | end | abort", parse_replay},
    {"snapshot", "snapshot save | load bytes=N", parse_snapshot},
    {"reset", "reset", no_arguments<ResetCommand>},
    {"check", "check", no_arguments<CheckCommand>},
    {"status", "status", no_arguments<StatusCommand>},
    {"help", "help", no_arguments<HelpCommand>},
};

}  // namespace

bool announces_raw_bytes(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  std::string verb, op;
  if (auto tokens = tokenize(line); tokens) {
    if (tokens->size() < 2 || (*tokens)[0].has_key || (*tokens)[1].has_key) return false;
    verb = (*tokens)[0].value;
    op = (*tokens)[1].value;
  } else {  // an unterminated quote further on: the first two blank-separated words
    std::istringstream words{std::string(line)};
    words >> verb >> op;
  }
  return (verb == "replay" && op == "data") || (verb == "snapshot" && op == "load");
}

Result<Command> parse_command(std::string_view line) {
  if (line.size() > kMaxCommandBytes) {
    return make_error(fmt::format("command longer than {} bytes", kMaxCommandBytes));
  }
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  for (char c : line) {
    if (c == '\n') return make_error("one command per line (found a newline inside)");
    if (c == '\0') return make_error("command contains a NUL byte");
  }
  auto tokens = tokenize(line);
  if (!tokens) return tokens.error();
  if (tokens->empty()) return make_error("empty command (try 'help')");
  Token verb = std::move(tokens->front());
  tokens->erase(tokens->begin());
  if (!verb.has_key) {
    for (const Verb& v : kVerbs) {
      if (v.name == verb.value) return v.parse(Args(v.name, v.usage, std::move(*tokens)));
    }
  }
  std::string names;
  for (const Verb& v : kVerbs) {
    names += (names.empty() ? "" : ", ") + std::string(v.name);
  }
  return make_error(fmt::format("unknown command {} (commands: {})", quoted(verb.text()), names));
}

std::string_view command_help() {
  return R"(memd commands (one per line; the control file and the socket speak the same language):
  alloc order=N gfp=FLAGS [node=N] [cpu=N] [count=N]
      allocate 2^N pages; FLAGS as the kernel prints them (GFP_KERNEL|__GFP_ZERO) or a hex mask
  free pfn=P [pfn=P...] [cpu=C]   free the allocations whose first page is P
  free id=N [id=N...] [cpu=C]     free allocations by id
  free all [cpu=C]                free every live allocation
  sysctl                          list the vm sysctls memd models
  sysctl NAME                     print one (min_free_kbytes, watermark_scale_factor, ...)
  sysctl NAME=VALUE               set one (lowmem_reserve_ratio=256,256,32,0,0)
  show FILE                       print a file of the mount (buddyinfo, zoneinfo, ...)
  status                          the machine's shape and counters
  check                           verify every invariant of the allocator
  reset                           reboot the emulated machine from its configuration
  snapshot save | load bytes=N    the machine's whole state as bytes, out or in (socket only;
                                  memctl snapshot save FILE / load FILE)
  replay file=PATH                replay a kernel trace (.gz too) read by the daemon
  replay begin | data bytes=N | end | abort
                                  stream a trace over the socket
  help                            this text
)";
}

}  // namespace memd
