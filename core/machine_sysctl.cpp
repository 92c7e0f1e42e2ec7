// The vm sysctls memd models, as one table: each row names the sysctl, reads
// it, parses and validates a write the way its proc handler does, stores it,
// and names what the kernel's handler recomputes afterwards. A refused write
// changes nothing.
#include "core/machine.h"

#include <array>

namespace memd {
namespace {

std::string join_tabs(const std::vector<int>& values) {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) s += '\t';
    s += std::to_string(values[i]);
  }
  return s;
}

// The parser checked the bounds; nothing depends on the machine.
std::string no_more_checks(const Machine&, const std::vector<int>&) {
  return "";
}

}  // namespace

// One row of the table; the value is parsed by parse_sysctl_write() with the
// sysctl's SysctlRule (core/config.h), as on the kernel command line. `validate` returns the
// refusal's reason (after "name=value: ") or an empty string; `store` returns whether the value
// changed anything that `recompute` must follow up.
struct Machine::Sysctl {
  std::string_view name;
  std::string (*get)(const Machine&);
  std::string (*validate)(const Machine&, const std::vector<int>&);
  bool (*store)(Machine&, const std::vector<int>&);
  void (Machine::*recompute)();  // nullptr: the handler recomputes nothing
};

const std::vector<Machine::Sysctl>& Machine::sysctl_table() {
  static const std::vector<Sysctl> table = {
      {"min_free_kbytes", [](const Machine& m) { return std::to_string(m.min_free_kbytes_); },
       no_more_checks,
       [](Machine& m, const std::vector<int>& v) {
         m.user_min_free_kbytes_ = m.min_free_kbytes_ = v[0];
         return true;
       },
       &Machine::setup_per_zone_wmarks},
      {"watermark_scale_factor",
       [](const Machine& m) { return std::to_string(m.watermark_scale_factor_); }, no_more_checks,
       [](Machine& m, const std::vector<int>& v) {
         m.watermark_scale_factor_ = v[0];
         return true;
       },
       &Machine::setup_per_zone_wmarks},
      {"watermark_boost_factor",
       [](const Machine& m) { return std::to_string(m.ctx_.watermark_boost_factor); },
       no_more_checks,
       [](Machine& m, const std::vector<int>& v) {
         m.ctx_.watermark_boost_factor = v[0];
         return false;
       },
       nullptr},
      {"lowmem_reserve_ratio", [](const Machine& m) { return join_tabs(m.lowmem_reserve_ratio_); },
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
       no_more_checks,
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
  auto values = parse_sysctl_write(value, *vm_sysctl_rule(name));
  if (!values) return make_error(what + ": " + values.error().message);
  if (std::string why = s->validate(*this, *values); !why.empty()) {
    return make_error(what + ": " + why);
  }
  if (s->store(*this, *values) && s->recompute) (this->*(s->recompute))();
  return {};
}

}  // namespace memd
