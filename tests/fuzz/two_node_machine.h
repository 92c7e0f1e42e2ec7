// The machine the core's fuzz targets run on.
#pragma once

#include <cstdlib>
#include <memory>

#include "core/machine.h"

namespace memd::fuzz {

// 96 MiB in two nodes (64 + 32 MiB), three CPUs: small enough to boot for
// every input, with a remote node for fallback along the zonelist.
inline std::unique_ptr<Machine> make_two_node_machine() {
  MachineConfig cfg;
  cfg.size = 96ULL << 20;
  cfg.nodes.resize(2);
  cfg.nodes[0].size = 64ULL << 20;
  cfg.nodes[1].size = 32ULL << 20;
  cfg.cpus = 3;
  auto m = Machine::boot(cfg);
  if (!m) std::abort();
  return std::move(*m);
}

}  // namespace memd::fuzz
