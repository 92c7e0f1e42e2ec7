// libFuzzer target: a sequence of allocator operations decoded from the input
// (alloc with any order/GFP/node/cpu, free by pfn or id, sysctl writes) on a
// small two-node machine (each input on an exact copy of one booted machine,
// two_node_machine.h), with the invariant checker after every step.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/machine.h"
#include "tests/fuzz/two_node_machine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static memd::fuzz::BootedMachines machines(1);
  memd::Machine* m = machines.fresh();
  std::vector<memd::Pfn> live;
  size_t i = 0;
  auto next = [&]() -> uint32_t {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k)
      v = (v << 8) | (i < size ? data[i++] : 0);
    return v;
  };
  while (i < size) {
    const uint32_t op = next();
    switch (op % 5) {
      case 0:
      case 1: {
        memd::AllocRequest r;
        r.order = (op >> 3) % 12;  // 11 is invalid on purpose
        r.gfp = next();
        r.cpu = static_cast<int>((op >> 8) % 4) - ((op >> 12) & 1);  // -1..3: some invalid
        if (op & 0x10000) r.node = static_cast<int>((op >> 17) % 3);
        auto a = m->alloc(r);
        if (a) live.push_back(a->pfn);
        break;
      }
      case 2:
        if (!live.empty()) {
          const size_t k = next() % live.size();
          if (!m->free_pfn(live[k], static_cast<int>(op >> 8) % 3)) std::abort();
          live[k] = live.back();
          live.pop_back();
        } else {
          (void)m->free_pfn(next(), 0);  // arbitrary pfns must be refused cleanly
        }
        break;
      case 3:
        // Any id: a live one frees that block (forget its pfn), others are refused.
        if (auto freed = m->free_id(next() % 64, 0)) {
          live.erase(std::find(live.begin(), live.end(), freed->pfn));
        }
        break;
      case 4: {
        static const char* names[] = {
            "min_free_kbytes",      "watermark_scale_factor",        "watermark_boost_factor",
            "lowmem_reserve_ratio", "percpu_pagelist_high_fraction", "bogus"};
        (void)m->set_sysctl(names[(op >> 8) % 6], std::to_string(static_cast<int>(next()) % 5000));
        break;
      }
    }
    if (!m->check().ok()) std::abort();
  }
  return 0;
}
