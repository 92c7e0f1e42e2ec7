#include "core/config.h"

#include <cctype>
#include <charconv>
#include <limits>
#include <string>

#include "core/kernel_param_names.h"

namespace memd {
namespace {

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// simple_strtoull(s, &end, 0): base from the prefix, returns the end offset.
size_t parse_c_number(std::string_view s, uint64_t* out) {
  int base = 10;
  size_t i = 0;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s.size() > 2 &&
      std::isxdigit(static_cast<unsigned char>(s[2]))) {
    base = 16;
    i = 2;
  } else if (s.size() >= 1 && s[0] == '0') {
    base = 8;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v, base);
  if (ec == std::errc::result_out_of_range) return 0;
  if (p == s.data() + i) return 0;  // nothing parsed
  *out = v;
  return static_cast<size_t>(p - s.data());
}

struct Arg {
  std::string_view param;
  std::optional<std::string_view> value;
};

// lib/cmdline.c next_arg(): whitespace separates arguments, double quotes group,
// the quotes around a value (or around the whole argument) are dropped.
std::vector<Arg> split_args(std::string_view s) {
  std::vector<Arg> args;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
    if (i >= s.size()) break;
    size_t start = i;
    bool in_quote = false;
    size_t equals = std::string_view::npos;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (std::isspace(static_cast<unsigned char>(c)) && !in_quote) break;
      if (equals == std::string_view::npos && c == '=') equals = i;
      if (c == '"') in_quote = !in_quote;
    }
    std::string_view whole = s.substr(start, i - start);
    bool outer_quoted = whole.size() >= 2 && whole.front() == '"';
    if (outer_quoted) {
      whole.remove_prefix(1);
      if (whole.back() == '"') whole.remove_suffix(1);
      if (equals != std::string_view::npos) --equals;
    }
    Arg arg;
    if (equals == std::string_view::npos) {
      arg.param = whole;
    } else {
      size_t e = equals - start;
      arg.param = whole.substr(0, e);
      std::string_view v = whole.substr(e + 1);
      if (!outer_quoted && v.size() >= 1 && v.front() == '"') {
        v.remove_prefix(1);
        if (!v.empty() && v.back() == '"') v.remove_suffix(1);
      }
      arg.value = v;
    }
    args.push_back(arg);
  }
  return args;
}

// unknown_bootoption(): the kernel knows a registered name, a module's
// parameter (a name with a dot) and the bootloaders' BOOT_IMAGE= and kexec.
bool known_to_kernel(std::string_view param) {
  return is_kernel_param_name(param) || param.find('.') != std::string_view::npos ||
         param.substr(0, 10) == "BOOT_IMAGE" || param.substr(0, 5) == "kexec";
}

// cmdline_parse_core(): "N%" or a memparse size, converted to pages.
Status parse_core(std::string_view name, std::string_view v, uint64_t* pages, uint64_t* percent) {
  uint64_t n = 0;
  size_t end = parse_c_number(v, &n);
  if (end > 0 && end + 1 == v.size() && v[end] == '%') {
    if (n > 100) {
      return make_error(std::string(name) + "=" + std::string(v) + ": a percentage over 100");
    }
    *percent = n;  // an earlier size stays: only a non-zero percentage overrides it
    return {};
  }
  auto bytes = parse_memsize(v);
  if (!bytes) {
    return make_error(std::string(name) + "=" + std::string(v) +
                      ": not a size (K/M/G suffix) or a percentage");
  }
  *pages = *bytes >> kPageShift;
  *percent = 0;
  return {};
}

Status parse_sysctl(KernelParams* kp, std::string_view key, std::string_view v, bool* known) {
  const SysctlRule* rule = vm_sysctl_rule(key);
  *known = rule != nullptr;
  if (!rule) return {};
  auto values = parse_sysctl_write(v, *rule);
  if (!values) {
    std::string why =
        "sysctl.vm." + std::string(key) + "=" + std::string(v) + ": " + values.error().message;
    if (v.find(',') != std::string_view::npos) {
      why +=
          "; on the command line, separate values with spaces inside double quotes, e.g. "
          "sysctl.vm.lowmem_reserve_ratio=\"256 256 32 0 0\"";
    }
    return make_error(why);
  }
  if (key == "min_free_kbytes") kp->min_free_kbytes = values->front();
  if (key == "watermark_scale_factor") kp->watermark_scale_factor = values->front();
  if (key == "watermark_boost_factor") kp->watermark_boost_factor = values->front();
  if (key == "percpu_pagelist_high_fraction") kp->percpu_pagelist_high_fraction = values->front();
  if (key == "lowmem_reserve_ratio") kp->lowmem_reserve_ratio = std::move(*values);
  return {};
}

bool is_kernel_space(char c) {  // isspace() in lib/ctype.c
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool is_sysctl_separator(char c) {  // proc_wspace_sep[] in kernel/sysctl.c
  return c == ' ' || c == '\t' || c == '\n';
}

std::string bounds(const SysctlRule& rule) {
  return "(" + std::to_string(rule.min) + ".." + std::to_string(rule.max) + ")";
}

// proc_get_long() and do_proc_dointvec_minmax_conv() on one word.
Result<int> parse_sysctl_word(std::string_view word, const SysctlRule& rule) {
  const std::string w = "'" + std::string(word) + "'";
  const bool neg = word.size() > 1 && word[0] == '-';
  std::string_view digits = word.substr(neg ? 1 : 0);
  if (!std::isdigit(static_cast<unsigned char>(digits[0]))) {
    return make_error(w + " is not an integer");
  }
  int base = 10;
  size_t i = 0;
  if (digits[0] == '0') {
    const bool hex = digits.size() > 2 && (digits[1] == 'x' || digits[1] == 'X') &&
                     std::isxdigit(static_cast<unsigned char>(digits[2]));
    base = hex ? 16 : 8;
    i = hex ? 2 : 0;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data() + i, digits.data() + digits.size(), v, base);
  if (ec == std::errc::result_out_of_range) {
    return make_error(w + " is out of range " + bounds(rule));
  }
  const size_t len = static_cast<size_t>(p - word.data());
  if (len < word.size()) {
    return make_error(w +
                      " is not an integer (the kernel reads integers separated by spaces, "
                      "tabs or newlines)");
  }
  if (len >= 21) return make_error(w + " is too long (the kernel reads at most 20 characters)");
  const int64_t n = neg ? -static_cast<int64_t>(std::min<uint64_t>(v, uint64_t{1} << 40))
                        : static_cast<int64_t>(std::min<uint64_t>(v, uint64_t{1} << 40));
  if (n < rule.min || n > rule.max) return make_error(w + " is out of range " + bounds(rule));
  if (rule.min_if_nonzero > 0 && n != 0 && n < rule.min_if_nonzero) {
    return make_error(w + ": must be 0 or at least " + std::to_string(rule.min_if_nonzero));
  }
  return static_cast<int>(n);
}

}  // namespace

const SysctlRule* vm_sysctl_rule(std::string_view name) {
  constexpr int kIntMin = std::numeric_limits<int>::min();
  constexpr int kIntMax = std::numeric_limits<int>::max();
  static const SysctlRule rules[] = {
      {"min_free_kbytes", 1, 0, kIntMax, 0},
      {"watermark_scale_factor", 1, 1, 3000, 0},
      {"watermark_boost_factor", 1, 0, kIntMax, 0},
      {"lowmem_reserve_ratio", std::numeric_limits<size_t>::max(), kIntMin, kIntMax, 0},
      {"percpu_pagelist_high_fraction", 1, 0, kIntMax, kMinPercpuPagelistHighFraction},
  };
  for (const SysctlRule& r : rules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// __do_proc_dointvec()'s write loop: skip blanks, read a number, repeat.
Result<std::vector<int>> parse_sysctl_write(std::string_view value, const SysctlRule& rule) {
  std::vector<int> out;
  size_t i = 0;
  while (true) {
    while (i < value.size() && is_kernel_space(value[i])) {
      ++i;
    }
    if (i == value.size()) break;
    size_t j = i;
    while (j < value.size() && !is_sysctl_separator(value[j])) {
      ++j;
    }
    auto n = parse_sysctl_word(value.substr(i, j - i), rule);
    if (!n) return n.error();
    out.push_back(*n);
    i = j;
  }
  if (out.empty()) return make_error("no integer given");
  if (out.size() > rule.max_values) {
    return make_error(std::string(rule.name) + " takes one integer, not " +
                      std::to_string(out.size()));
  }
  return out;
}

std::optional<int> parse_sysctl_int(std::string_view text) {
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  uint64_t v = 0;
  if (s.empty() || parse_c_number(s, &v) != s.size()) return std::nullopt;
  if (v > (neg ? 0x80000000ULL : 0x7fffffffULL)) return std::nullopt;
  return neg ? static_cast<int>(-static_cast<int64_t>(v)) : static_cast<int>(v);
}

std::optional<uint64_t> parse_memsize(std::string_view text) {
  uint64_t n = 0;
  size_t end = parse_c_number(text, &n);
  if (end == 0) return std::nullopt;
  std::string_view rest = text.substr(end);
  int shift = 0;
  if (!rest.empty()) {
    switch (rest[0]) {
      case 'E':
      case 'e':
        shift = 60;
        break;
      case 'P':
      case 'p':
        shift = 50;
        break;
      case 'T':
      case 't':
        shift = 40;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'K':
      case 'k':
        shift = 10;
        break;
      default:
        return std::nullopt;
    }
    rest.remove_prefix(1);
    // Accept "4GiB" / "4GB" / "4G" as people write sizes in config files.
    if (rest == "iB" || rest == "ib" || rest == "B" || rest == "b") rest = {};
    if (!rest.empty()) return std::nullopt;
  }
  if (shift && n > (~0ULL >> shift)) return std::nullopt;
  return n << shift;
}

Result<KernelParams> parse_kernel_cmdline(std::string_view cmdline) {
  KernelParams kp;
  for (const Arg& a : split_args(cmdline)) {
    if (a.param == "--") break;  // the rest goes to init
    if (!known_to_kernel(a.param)) {
      kp.unknown_to_kernel.push_back(std::string(a.param) +
                                     (a.value ? "=" + std::string(*a.value) : ""));
    }
    std::string_view v = a.value.value_or("");
    if (a.param == "gbpages" || a.param == "nogbpages") {
      kp.direct_gbpages = a.param == "gbpages";
      continue;
    }
    if (a.param == "kernelcore") {
      if (!a.value) return make_error("kernelcore: needs a value");
      if (v == "mirror") {
        kp.kernelcore_mirror = true;
        continue;
      }
      if (auto st = parse_core("kernelcore", v, &kp.kernelcore_pages, &kp.kernelcore_percent);
          !st) {
        return st.error();
      }
    } else if (a.param == "movablecore") {
      if (!a.value) return make_error("movablecore: needs a value");
      if (auto st = parse_core("movablecore", v, &kp.movablecore_pages, &kp.movablecore_percent);
          !st) {
        return st.error();
      }
    } else if (a.param == "transparent_hugepage") {
      if (v == "always") {
        kp.thp = KernelParams::Thp::kAlways;
      } else if (v == "madvise") {
        kp.thp = KernelParams::Thp::kMadvise;
      } else if (v == "never") {
        kp.thp = KernelParams::Thp::kNever;
      } else {
        return make_error("transparent_hugepage=" + std::string(v) +
                          ": must be always, madvise or never");
      }
      kp.thp_set = true;
    } else if (a.param.substr(0, 10) == "sysctl.vm." || a.param.substr(0, 10) == "sysctl/vm/") {
      if (!a.value) return make_error(std::string(a.param) + ": needs a value");
      bool known = false;
      std::string key(a.param.substr(10));
      for (char& c : key) {
        if (c == '/') c = '.';
      }
      if (auto st = parse_sysctl(&kp, key, v, &known); !st) return st.error();
      if (!known) kp.ignored.emplace_back(a.param);
    } else {
      kp.ignored.emplace_back(a.param);
    }
  }
  return kp;
}

Result<std::vector<E820Entry>> parse_e820(std::string_view text) {
  std::vector<E820Entry> out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) continue;
    size_t mem = line.find("[mem ");
    if (mem == std::string_view::npos) {
      return make_error("e820 line " + std::to_string(line_no) +
                        ": expected '[mem 0xSTART-0xEND] type', got " + quoted(line.substr(b)));
    }
    std::string_view rest = line.substr(mem + 5);
    size_t dash = rest.find('-');
    size_t close = rest.find(']');
    if (dash == std::string_view::npos || close == std::string_view::npos || dash > close) {
      return make_error("e820 line " + std::to_string(line_no) + ": malformed range in " +
                        quoted(line.substr(b)));
    }
    uint64_t start = 0, last = 0;
    std::string_view s1 = rest.substr(0, dash), s2 = rest.substr(dash + 1, close - dash - 1);
    if (parse_c_number(s1, &start) != s1.size() || parse_c_number(s2, &last) != s2.size() ||
        s1.substr(0, 2) != "0x" || s2.substr(0, 2) != "0x") {
      return make_error("e820 line " + std::to_string(line_no) +
                        ": addresses must be hex (0x...) in " + quoted(line.substr(b)));
    }
    if (last < start || last == ~0ULL) {
      return make_error("e820 line " + std::to_string(line_no) + ": range end before start in " +
                        quoted(line.substr(b)));
    }
    std::string_view type = rest.substr(close + 1);
    size_t t0 = type.find_first_not_of(" \t");
    size_t t1 = type.find_last_not_of(" \t\r");
    type = t0 == std::string_view::npos ? std::string_view{} : type.substr(t0, t1 - t0 + 1);
    if (type.empty()) {
      return make_error("e820 line " + std::to_string(line_no) +
                        ": missing type (usable, reserved, ...)");
    }
    out.push_back({{start, last + 1}, std::string(type)});
  }
  if (out.empty()) return make_error("e820 map has no entries");
  return out;
}

}  // namespace memd
