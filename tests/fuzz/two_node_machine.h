// The machine the core's fuzz targets run on, and the copies each input starts from.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/machine.h"
#include "core/machine_files.h"

namespace memd::fuzz {

// 96 MiB in two nodes (64 + 32 MiB), three CPUs, with a remote node for
// fallback along the zonelist.
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

// What a machine shows of itself: its state, its kernel log, its trace file.
inline std::string fingerprint(const Machine& m) {
  return m.save_state() + render_machine_file(ProcFile::kDmesg, m) +
         render_machine_file(ProcFile::kTrace, m);
}

// Booted machines for the inputs (issue 15): booting took longer than most
// inputs, so the machine boots once per process and every input starts from
// an exact copy of it (Machine::copy_from, which writes back only what the
// last input changed). Each input must start from the same machine, or a
// crash would not reproduce alone: the copy is compared with an independent
// second boot once, and every copy's state with the booted state (one
// save_state, a small part of an input's time).
class BootedMachines {
 public:
  // `slots` copies, for targets that run one input on several machines.
  explicit BootedMachines(size_t slots)
      : booted_(make_two_node_machine()), booted_state_(booted_->save_state()) {
    if (fingerprint(*booted_->clone()) != fingerprint(*make_two_node_machine())) {
      std::fprintf(stderr, "fuzz: a copy of the booted machine differs from a fresh boot\n");
      std::abort();
    }
    for (size_t i = 0; i < slots; ++i) {
      copies_.push_back(booted_->clone());
    }
  }

  // Copy `slot`, as booted.
  Machine* fresh(size_t slot = 0) {
    Machine* m = copies_[slot].get();
    m->copy_from(*booted_);
    if (m->save_state() != booted_state_) {
      std::fprintf(stderr, "fuzz: the machine for this input is not the booted machine\n");
      std::abort();
    }
    return m;
  }

 private:
  std::unique_ptr<Machine> booted_;
  std::string booted_state_;
  std::vector<std::unique_ptr<Machine>> copies_;
};

}  // namespace memd::fuzz
