// The vm sysctls memd models, as one table: each row names the sysctl, reads
// it, parses and validates a write the way its proc handler does, stores it,
// and names what the kernel's handler recomputes afterwards. A refused write
// changes nothing.
#include "core/machine.h"

#include <array>

namespace memd {
namespace {

bool is_sysctl_space(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}

std::string join_tabs(const std::vector<int>& values) {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) s += '\t';
    s += std::to_string(values[i]);
  }
  return s;
}

// proc_dointvec on a vector: integers separated by whitespace. A write the
// kernel would reject part-way ("256,256" stops at the comma) changes nothing.
Result<std::vector<int>> parse_int_vector(std::string_view value, const std::string& what) {
  std::vector<int> out;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && is_sysctl_space(value[i])) {
      ++i;
    }
    size_t j = i;
    while (j < value.size() && !is_sysctl_space(value[j])) {
      ++j;
    }
    if (j > i) {
      auto n = parse_sysctl_int(value.substr(i, j - i));
      if (!n) {
        return make_error(what + ": '" + std::string(value.substr(i, j - i)) +
                          "' is not an integer (the kernel reads whitespace-separated integers)");
      }
      out.push_back(*n);
    }
    i = j;
  }
  if (out.empty()) return make_error(what + ": no ratios given");
  return out;
}

// proc_dointvec on one integer.
Result<std::vector<int>> parse_one_int(std::string_view value, const std::string& what) {
  auto n = parse_sysctl_int(value);
  if (!n) return make_error(what + ": not an integer");
  return std::vector<int>{*n};
}

}  // namespace

// One row of the table. `validate` returns the refusal's reason (after
// "name=value: ") or an empty string; `store` returns whether the value
// changed anything that `recompute` must follow up.
struct Machine::Sysctl {
  std::string_view name;
  std::string (*get)(const Machine&);
  Result<std::vector<int>> (*parse)(std::string_view value, const std::string& what);
  std::string (*validate)(const Machine&, const std::vector<int>&);
  bool (*store)(Machine&, const std::vector<int>&);
  void (Machine::*recompute)();  // nullptr: the handler recomputes nothing
};

const std::vector<Machine::Sysctl>& Machine::sysctl_table() {
  static const std::vector<Sysctl> table = {
      {"min_free_kbytes", [](const Machine& m) { return std::to_string(m.min_free_kbytes_); },
       parse_one_int,
       [](const Machine&, const std::vector<int>& v) -> std::string {
         return v[0] < 0 ? "must be >= 0" : "";
       },
       [](Machine& m, const std::vector<int>& v) {
         m.user_min_free_kbytes_ = m.min_free_kbytes_ = v[0];
         return true;
       },
       &Machine::setup_per_zone_wmarks},
      {"watermark_scale_factor",
       [](const Machine& m) { return std::to_string(m.watermark_scale_factor_); }, parse_one_int,
       [](const Machine&, const std::vector<int>& v) -> std::string {
         return v[0] < 1 || v[0] > 3000 ? "must be in 1..3000" : "";
       },
       [](Machine& m, const std::vector<int>& v) {
         m.watermark_scale_factor_ = v[0];
         return true;
       },
       &Machine::setup_per_zone_wmarks},
      {"watermark_boost_factor",
       [](const Machine& m) { return std::to_string(m.ctx_.watermark_boost_factor); },
       parse_one_int,
       [](const Machine&, const std::vector<int>& v) -> std::string {
         return v[0] < 0 ? "must be >= 0" : "";
       },
       [](Machine& m, const std::vector<int>& v) {
         m.ctx_.watermark_boost_factor = v[0];
         return false;
       },
       nullptr},
      {"lowmem_reserve_ratio", [](const Machine& m) { return join_tabs(m.lowmem_reserve_ratio_); },
       parse_int_vector,
       [](const Machine& m, const std::vector<int>& v) -> std::string {
         if (v.size() <= m.lowmem_reserve_ratio_.size()) return "";
         return std::to_string(v.size()) + " ratios for " +
                std::to_string(m.lowmem_reserve_ratio_.size()) + " zones";
       },
       [](Machine& m, const std::vector<int>& v) {
         for (size_t k = 0; k < v.size(); ++k) {
           m.lowmem_reserve_ratio_[k] = v[k] < 1 ? 0 : v[k];
         }
         return true;
       },
       &Machine::setup_per_zone_lowmem_reserve},
      {"percpu_pagelist_high_fraction",
       [](const Machine& m) { return std::to_string(m.percpu_pagelist_high_fraction_); },
       parse_one_int,
       [](const Machine&, const std::vector<int>& v) -> std::string {
         return v[0] < 0 || (v[0] && v[0] < kMinPercpuPagelistHighFraction)
                    ? "must be 0 or at least 8"
                    : "";
       },
       [](Machine& m, const std::vector<int>& v) {
         if (v[0] == m.percpu_pagelist_high_fraction_) return false;
         m.percpu_pagelist_high_fraction_ = v[0];
         return true;
       },
       &Machine::setup_per_cpu_pageset},
  };
  return table;
}

const Machine::Sysctl* Machine::find_sysctl(std::string_view name) {
  for (const Sysctl& s : sysctl_table()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const std::vector<std::string_view>& Machine::sysctl_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const Sysctl& s : sysctl_table()) {
      v.push_back(s.name);
    }
    return v;
  }();
  return names;
}

namespace {

Error unknown_sysctl(std::string_view name) {
  return make_error("unknown sysctl '" + std::string(name) +
                    "' (memd models vm.min_free_kbytes, "
                    "vm.watermark_scale_factor, vm.watermark_boost_factor, "
                    "vm.lowmem_reserve_ratio, vm.percpu_pagelist_high_fraction)");
}

}  // namespace

Result<std::string> Machine::get_sysctl(std::string_view name) const {
  const Sysctl* s = find_sysctl(name);
  if (!s) return unknown_sysctl(name);
  return s->get(*this);
}

// The proc handler's write: parse, validate, store, then recompute what
// depends on the value (setup_per_zone_wmarks() for min_free_kbytes, ...).
Status Machine::set_sysctl(std::string_view name, std::string_view value) {
  const Sysctl* s = find_sysctl(name);
  if (!s) return unknown_sysctl(name);
  const std::string what = std::string(name) + "=" + std::string(value);
  auto values = s->parse(value, what);
  if (!values) return values.error();
  if (std::string why = s->validate(*this, *values); !why.empty()) {
    return make_error(what + ": " + why);
  }
  if (s->store(*this, *values) && s->recompute) (this->*(s->recompute))();
  return {};
}

}  // namespace memd
