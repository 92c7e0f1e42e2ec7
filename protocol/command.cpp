// The command language's grammar: tokens, key=value checks, one parser per
// verb, and the way back from a Command to its line.
#include "protocol/command.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <fmt/format.h>

#include "protocol/text.h"

namespace memd::protocol {
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

Error make_usage_error(std::string_view verb, std::string_view usage, std::string_view what) {
  return make_error(fmt::format("{}: {} (usage: {})", verb, what, usage));
}

// A word without quotes: split at its first '=', copied in two pieces rather
// than character by character (pipelined commands spent 7 % of memd's time
// tokenizing).
Token plain_token(std::string_view word) {
  Token t;
  const size_t eq = word.find('=');
  if (eq == std::string_view::npos) {
    t.value.assign(word);
    return t;
  }
  t.has_key = true;
  t.key.assign(word.substr(0, eq));
  t.value.assign(word.substr(eq + 1));
  return t;
}

// Splits on blanks; double quotes group ("file=\"/tmp/a b\""), backslash escapes inside them.
Result<std::vector<Token>> tokenize(std::string_view line) {
  std::vector<Token> out;
  out.reserve(8);
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
      ++i;
    }
    if (i == line.size()) break;
    const std::string_view rest = line.substr(i);
    const std::string_view plain = rest.substr(0, rest.find_first_of(" \t\""));
    if (plain.size() == rest.size() || rest[plain.size()] != '"') {
      out.push_back(plain_token(plain));
      if (out.back().has_key && out.back().key.empty()) {
        return make_error("'=" + out.back().value + "' has no key");
      }
      i += plain.size();
      continue;
    }
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
  Args(std::string_view verb, std::string_view usage, std::vector<Token> tokens,
       GfpCheck check_gfp = nullptr)
      : verb_(verb), usage_(usage), tokens_(std::move(tokens)), check_gfp_(check_gfp) {}

  Error error(std::string_view what) const { return make_usage_error(verb_, usage_, what); }

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
  GfpCheck check_gfp() const { return check_gfp_; }

 private:
  std::string_view verb_;
  std::string_view usage_;
  std::vector<Token> tokens_;
  GfpCheck check_gfp_;
};

Result<Command> parse_alloc(const Args& a) {
  if (auto st = a.check_keys({"order", "gfp", "node", "cpu", "count"}); !st) return st.error();
  AllocCommand c;
  auto order = a.required("order", 0, kMaxOrder);
  if (!order) return order.error();
  c.order = static_cast<unsigned>(*order);
  const Token* gfp = a.find("gfp");
  if (!gfp) return a.error("missing gfp=");
  if (a.check_gfp()) {
    if (auto why = a.check_gfp()(gfp->value)) {
      return a.error(fmt::format("{}: {}", gfp->text(), *why));
    }
  }
  c.gfp = gfp->value;
  auto node = a.number("node", 0, kMaxNode);
  if (!node) return node.error();
  if (*node) c.node = static_cast<int>(**node);
  auto cpu = a.number("cpu", 0, kMaxCpu);
  if (!cpu) return cpu.error();
  if (*cpu) c.cpu = static_cast<int>(**cpu);
  auto count = a.number("count", 1, kMaxAllocCount);
  if (!count) return count.error();
  c.count = *count;
  return Command{c};
}

Result<Command> parse_free(const Args& a) {
  if (auto st = a.check_keys({"pfn", "id", "cpu"}, {"pfn", "id"}, {"all"}); !st) return st.error();
  FreeCommand c;
  auto cpu = a.number("cpu", 0, kMaxCpu);
  if (!cpu) return cpu.error();
  if (*cpu) c.cpu = static_cast<int>(**cpu);
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

// A name= value: letters and digits only (a zone's or a migrate type's name).
Result<std::string> name_value(const Args& a, std::string_view key) {
  const Token* t = a.find(key);
  if (!t) return std::string();
  const bool plain = !t->value.empty() && std::all_of(t->value.begin(), t->value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
  });
  if (!plain) return a.error(fmt::format("{}: not a name", quoted(t->text())));
  return t->value;
}

Result<Command> parse_allocations(const Args& a) {
  if (auto st = a.check_keys({"zone", "node", "migratetype", "order", "after", "limit"}); !st) {
    return st.error();
  }
  AllocationsCommand c;
  auto zone = name_value(a, "zone");
  if (!zone) return zone.error();
  c.zone = *zone;
  auto mt = name_value(a, "migratetype");
  if (!mt) return mt.error();
  c.migratetype = *mt;
  auto node = a.number("node", 0, kMaxNode);
  if (!node) return node.error();
  if (*node) c.node = static_cast<int>(**node);
  auto order = a.number("order", 0, kMaxOrder);
  if (!order) return order.error();
  if (*order) c.order = static_cast<unsigned>(**order);
  auto after = a.number("after", 0, UINT64_MAX);
  if (!after) return after.error();
  c.after = *after;
  auto limit = a.number("limit", 1, kMaxAllocationsLimit);
  if (!limit) return limit.error();
  c.limit = *limit;
  return Command{c};
}

// `memory offline block=N` | `memory online block=N [zone=kernel|movable]`
Result<Command> parse_memory(const Args& a) {
  if (a.tokens().empty() || a.tokens().front().has_key) {
    return a.error("say offline or online");
  }
  const Token& first = a.tokens().front();
  MemoryCommand c;
  if (first.value == "online") {
    c.op = MemoryCommand::Op::kOnline;
  } else if (first.value != "offline") {
    return a.error(fmt::format("unknown step {}", quoted(first.value)));
  }
  const std::vector<Token> rest(a.tokens().begin() + 1, a.tokens().end());
  const Args args(a.verb(),
                  c.op == MemoryCommand::Op::kOnline ? "memory online block=N [zone=kernel|movable]"
                                                     : "memory offline block=N",
                  rest);
  if (c.op == MemoryCommand::Op::kOnline) {
    if (auto st = args.check_keys({"block", "zone"}); !st) return st.error();
  } else if (auto st = args.check_keys({"block"}); !st) {
    return st.error();
  }
  auto block = args.required("block", 0, kMaxMemoryBlock);
  if (!block) return block.error();
  c.block = *block;
  if (const Token* zone = args.find("zone")) {
    if (zone->value == "kernel") {
      c.zone = MemoryCommand::Zone::kKernel;
    } else if (zone->value == "movable") {
      c.zone = MemoryCommand::Zone::kMovable;
    } else {
      return args.error(fmt::format("{}: kernel or movable", zone->text()));
    }
  }
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
  // The value as written: the machine parses it as the kernel's
  // proc_dointvec does (lists blank-separated, "256 256 32" in quotes).
  if (t.has_key) c.value = t.value;
  return Command{c};
}

Result<Command> parse_show(const Args& a) {
  if (a.tokens().size() != 1) return a.error("name one file");
  const Token& t = a.tokens().front();
  if (t.has_key && t.key != "file") return a.error(fmt::format("unknown key {}", quoted(t.key)));
  return Command{ShowCommand{t.value}};
}

constexpr std::string_view kReplayBeginUsage = "replay begin [every=N] [continue]";

// `replay begin [every=N] [continue]`
Result<Command> parse_replay_begin(const Args& a) {
  if (auto st = a.check_keys({"every"}, {}, {"continue"}); !st) return st.error();
  ReplayCommand c{};
  c.op = ReplayCommand::Op::kBegin;
  auto every = a.number("every", 1, kMaxHistoryEvery);
  if (!every) return every.error();
  c.every = every->value_or(0);
  for (const Token& t : a.tokens()) {
    if (!t.has_key) c.continue_previous = true;
  }
  return Command{c};
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
  if (first.value == "begin") return parse_replay_begin(Args(a.verb(), kReplayBeginUsage, rest));
  if (first.value == "end") {
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

// Event names: lower-case words, digits, '_' and the "kmem:" system prefix.
bool is_event_name(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
  });
}

Result<Command> parse_trace_events(const Args& a, TraceCommand c) {
  for (size_t i = 1; i < a.tokens().size(); ++i) {
    const Token& t = a.tokens()[i];
    if (t.has_key) return a.error(fmt::format("unexpected {}", quoted(t.text())));
    std::string_view rest = t.value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view name = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (name.empty()) continue;
      if (!is_event_name(name)) return a.error(fmt::format("bad event name {}", quoted(name)));
      c.events.emplace_back(name);
    }
  }
  if (c.op == TraceCommand::Op::kOn && c.events.empty()) {
    return a.error("name the events to turn on (mm_page_alloc,mm_page_free,... or all)");
  }
  return Command{c};
}

Result<Command> parse_trace(const Args& a) {
  TraceCommand c;
  if (a.tokens().empty()) return Command{c};
  const Token& first = a.tokens().front();
  if (first.has_key) {
    if (first.key != "buffer_size_kb") {
      return a.error(fmt::format("unknown key {}", quoted(first.key)));
    }
    if (a.tokens().size() > 1) {
      return a.error(fmt::format("unexpected {}", quoted(a.tokens()[1].text())));
    }
    auto kb = a.required("buffer_size_kb", 0, kMaxTraceBufferKb);
    if (!kb) return kb.error();
    c.op = TraceCommand::Op::kBufferSize;
    c.buffer_size_kb = *kb;
    return Command{c};
  }
  if (first.value == "on" || first.value == "off") {
    c.op = first.value == "on" ? TraceCommand::Op::kOn : TraceCommand::Op::kOff;
    return parse_trace_events(a, std::move(c));
  }
  if (first.value != "clear") return a.error(fmt::format("unknown step {}", quoted(first.value)));
  if (a.tokens().size() > 1) {
    return a.error(fmt::format("unexpected {}", quoted(a.tokens()[1].text())));
  }
  c.op = TraceCommand::Op::kClear;
  return Command{c};
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
    {"allocations",
     "allocations [zone=NAME] [node=N] [migratetype=NAME] [order=N] [after=ID] [limit=N]",
     parse_allocations},
    {"memory", "memory offline block=N | online block=N [zone=kernel|movable]", parse_memory},
    {"sysctl", "sysctl | sysctl NAME | sysctl NAME=VALUE", parse_sysctl},
    {"show", "show FILE", parse_show},
    {"replay", "replay file=PATH | begin [every=N] [continue] | data bytes=N | end | abort",
     parse_replay},
    {"snapshot", "snapshot save | load bytes=N", parse_snapshot},
    {"reset", "reset", no_arguments<ResetCommand>},
    {"check", "check", no_arguments<CheckCommand>},
    {"status", "status", no_arguments<StatusCommand>},
    {"trace", "trace | trace on EVENT[,EVENT...] | off [EVENT...] | buffer_size_kb=N | clear",
     parse_trace},
    {"help", "help", no_arguments<HelpCommand>},
};

}  // namespace

bool announces_raw_bytes(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
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

Result<Command> parse_command(std::string_view line, GfpCheck check_gfp) {
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
      if (v.name == verb.value) {
        return v.parse(Args(v.name, v.usage, std::move(*tokens), check_gfp));
      }
    }
  }
  std::string names;
  for (const Verb& v : kVerbs) {
    names += (names.empty() ? "" : ", ") + std::string(v.name);
  }
  return make_error(fmt::format("unknown command {} (commands: {})", quoted(verb.text()), names));
}

Error usage_error(std::string_view verb, std::string_view what) {
  for (const Verb& v : kVerbs) {
    if (v.name == verb) return make_usage_error(v.name, v.usage, what);
  }
  return make_error(fmt::format("{}: {}", verb, what));
}

// --- back to a line --------------------------------------------------------------------------

namespace {

// A command line being written: words after the verb, values quoted as the
// tokenizer reads them back. The first value that cannot be quoted fails it.
class LineWriter {
 public:
  explicit LineWriter(std::string_view verb) : line_(verb) {}

  LineWriter& word(std::string_view w) {
    line_ += ' ';
    line_ += w;
    return *this;
  }
  LineWriter& number(std::string_view key, uint64_t v) {
    return word(fmt::format("{}={}", key, v));
  }
  // key=VALUE, or VALUE alone when `key` is empty.
  LineWriter& value(std::string_view key, std::string_view v) {
    auto q = quote_value(v);
    if (!q) {
      if (!error_) {
        error_ = make_error(fmt::format("{}: {}", key.empty() ? line_ : key, q.error().message));
      }
      return *this;
    }
    return word(key.empty() ? *q : fmt::format("{}={}", key, *q));
  }
  Result<std::string> done() {
    if (error_) return *error_;
    return std::move(line_);
  }

 private:
  std::string line_;
  std::optional<Error> error_;
};

Result<std::string> format_alloc(const AllocCommand& c) {
  LineWriter w("alloc");
  w.number("order", c.order).value("gfp", c.gfp);
  if (c.count) w.number("count", *c.count);
  if (c.cpu) w.number("cpu", static_cast<uint64_t>(*c.cpu));
  if (c.node) w.number("node", static_cast<uint64_t>(*c.node));
  return w.done();
}

Result<std::string> format_free(const FreeCommand& c) {
  LineWriter w("free");
  if (c.all) w.word("all");
  for (const FreeTarget& t : c.targets) {
    w.word(t.kind == FreeTarget::Kind::kPfn ? "pfn=" + pfn_text(t.value)
                                            : fmt::format("id={}", t.value));
  }
  if (c.cpu) w.number("cpu", static_cast<uint64_t>(*c.cpu));
  return w.done();
}

Result<std::string> format_sysctl(const SysctlCommand& c) {
  LineWriter w("sysctl");
  if (c.name.empty()) return w.done();
  if (!c.value) return w.value("", c.name).done();
  auto name = quote_value(c.name);
  if (!name) return make_error("sysctl: " + name.error().message);
  return w.value(*name, *c.value).done();
}

Result<std::string> format_replay(const ReplayCommand& c) {
  LineWriter w("replay");
  switch (c.op) {
    case ReplayCommand::Op::kFile:
      return w.value("file", c.path).done();
    case ReplayCommand::Op::kBegin:
      w.word("begin");
      if (c.every) w.number("every", c.every);
      if (c.continue_previous) w.word("continue");
      return w.done();
    case ReplayCommand::Op::kData:
      return w.word("data").number("bytes", c.bytes).done();
    case ReplayCommand::Op::kEnd:
      return w.word("end").done();
    case ReplayCommand::Op::kAbort:
      return w.word("abort").done();
  }
  return make_error("replay: unknown step");
}

Result<std::string> format_trace(const TraceCommand& c) {
  LineWriter w("trace");
  switch (c.op) {
    case TraceCommand::Op::kStatus:
      return w.done();
    case TraceCommand::Op::kOn:
    case TraceCommand::Op::kOff: {
      w.word(c.op == TraceCommand::Op::kOn ? "on" : "off");
      std::string list;
      for (const std::string& e : c.events) {
        list += (list.empty() ? "" : ",") + e;
      }
      if (!list.empty()) w.value("", list);
      return w.done();
    }
    case TraceCommand::Op::kBufferSize:
      return w.number("buffer_size_kb", c.buffer_size_kb).done();
    case TraceCommand::Op::kClear:
      return w.word("clear").done();
  }
  return make_error("trace: unknown step");
}

Result<std::string> format_allocations(const AllocationsCommand& c) {
  LineWriter w("allocations");
  if (!c.zone.empty()) w.value("zone", c.zone);
  if (c.node) w.number("node", static_cast<uint64_t>(*c.node));
  if (!c.migratetype.empty()) w.value("migratetype", c.migratetype);
  if (c.order) w.number("order", *c.order);
  if (c.after) w.number("after", *c.after);
  if (c.limit) w.number("limit", *c.limit);
  return w.done();
}

Result<std::string> format_memory(const MemoryCommand& c) {
  LineWriter w("memory");
  w.word(c.op == MemoryCommand::Op::kOnline ? "online" : "offline").number("block", c.block);
  if (c.zone == MemoryCommand::Zone::kKernel) w.word("zone=kernel");
  if (c.zone == MemoryCommand::Zone::kMovable) w.word("zone=movable");
  return w.done();
}

Result<std::string> format_snapshot(const SnapshotCommand& c) {
  LineWriter w("snapshot");
  if (c.op == SnapshotCommand::Op::kSave) return w.word("save").done();
  return w.word("load").number("bytes", c.bytes).done();
}

}  // namespace

Result<std::string> format_command(const Command& command) {
  struct Visitor {
    Result<std::string> operator()(const AllocCommand& c) { return format_alloc(c); }
    Result<std::string> operator()(const FreeCommand& c) { return format_free(c); }
    Result<std::string> operator()(const SysctlCommand& c) { return format_sysctl(c); }
    Result<std::string> operator()(const ShowCommand& c) {
      return LineWriter("show").value("", c.file).done();
    }
    Result<std::string> operator()(const ReplayCommand& c) { return format_replay(c); }
    Result<std::string> operator()(const SnapshotCommand& c) { return format_snapshot(c); }
    Result<std::string> operator()(const ResetCommand&) { return std::string("reset"); }
    Result<std::string> operator()(const CheckCommand&) { return std::string("check"); }
    Result<std::string> operator()(const StatusCommand&) { return std::string("status"); }
    Result<std::string> operator()(const HelpCommand&) { return std::string("help"); }
    Result<std::string> operator()(const TraceCommand& c) { return format_trace(c); }
    Result<std::string> operator()(const AllocationsCommand& c) { return format_allocations(c); }
    Result<std::string> operator()(const MemoryCommand& c) { return format_memory(c); }
  };
  return std::visit(Visitor{}, command);
}

}  // namespace memd::protocol
