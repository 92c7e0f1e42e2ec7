// libFuzzer target: the TOML configuration loader (daemon/config.cpp). Any
// text is refused with a message naming where and why, or accepted; an
// accepted configuration of a small machine boots (or is refused by the core
// with a message), passes the invariant checker and renders every file.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/machine.h"
#include "core/machine_files.h"
#include "core/render.h"
#include "daemon/config.h"

namespace {

constexpr uint64_t kMaxBytes = 256ULL << 20;  // keep boots fast: 256 MiB of address space

// The highest physical address the configuration can reach, if it stays small enough to boot.
bool small_enough(const memd::MachineConfig& m) {
  if (m.size && *m.size > kMaxBytes) return false;
  uint64_t sized = 0;
  for (const memd::NodeConfig& n : m.nodes) {
    if (n.size) sized += *n.size;
    if (n.size && *n.size > kMaxBytes) return false;
    if (n.range && n.range->end > kMaxBytes) return false;
    if (n.cpus.size() > 64) return false;
    for (int cpu : n.cpus) {
      if (cpu > 64) return false;
    }
  }
  if (sized > kMaxBytes || m.nodes.size() > 16 || m.cpus > 64) return false;
  if (m.e820) {
    auto map = memd::parse_e820(*m.e820);
    if (!map) std::abort();  // the loader accepted it: it parsed there
    for (const memd::E820Entry& e : *map) {
      if (e.range.end > kMaxBytes) return false;
    }
  }
  for (const auto& list : {m.reserved, m.mirrored}) {
    for (const memd::PhysRange& r : list) {
      if (r.end > kMaxBytes) return false;
    }
  }
  // Without a size, nodes or a map the machine is the default 4 GiB one.
  return m.size || !m.nodes.empty() || m.e820;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = memd::parse_config(text, "fuzz.toml");
  if (!config) {
    // "fuzz.toml:LINE:COL: ..." from toml++ and from memd's own checks alike.
    if (config.error().message.rfind("fuzz.toml:", 0) != 0) std::abort();
    return 0;
  }
  const memd::DaemonSettings& d = config->daemon;
  for (const std::string* path : {&d.mount, &d.socket, &d.state_dir}) {
    if (path->empty() || (*path)[0] != '/') std::abort();
  }
  // socket_threads 0: not given, the CPUs memd may run on (default_socket_threads()).
  if (d.fuse_threads < 1 || d.socket_threads < 0 || d.max_clients < 1) std::abort();
  if (!small_enough(config->machine)) return 0;
  auto machine = memd::Machine::boot(config->machine);
  if (!machine) {
    if (machine.error().message.empty()) std::abort();
    return 0;
  }
  if (!(*machine)->check().ok()) std::abort();
  const memd::MachineStats stats = (*machine)->stats();
  for (memd::ProcFile f : memd::kStatsFiles) {
    if (memd::render(f, stats).empty()) std::abort();
  }
  if (memd::render_machine_file(memd::ProcFile::kDmesg, **machine).empty()) std::abort();
  if (memd::render_machine_file(memd::ProcFile::kZonelists, **machine).empty()) std::abort();
  return 0;
}
