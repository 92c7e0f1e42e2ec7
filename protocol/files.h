// The files the mount serves, by name, in the order a directory listing shows
// them: the one list memctl's `show`, the daemon's `show`, `--print` and the
// help text use. The core renders them (core/render.h, ProcFile in this
// order); the daemon maps a name to its ProcFile in one place
// (daemon/command.h, proc_file_named).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memd::protocol {

inline constexpr std::array<std::string_view, 11> kFileNames = {
    "buddyinfo",      "pagetypeinfo", "zoneinfo",  "vmstat", "meminfo",        "extfrag_index",
    "unusable_index", "dmesg",        "zonelists", "trace",  "pageblocks.svg",
};

// The position of `name` in kFileNames; nullopt for a file memd does not serve.
std::optional<size_t> file_index(std::string_view name);

// The names joined: "buddyinfo, pagetypeinfo, ..., unusable_index", or with
// `last` before the final one (" or ").
std::string file_names(std::string_view last = ", ");

// The files of the mount's memory/ directory (/sys/devices/system/memory):
// memory/block_size_bytes, and memory/memoryN/<name> for each name below, in
// the order of the kernel's attribute group (the core renders them:
// core/memory_block.h, MemoryBlockFile in this order).
inline constexpr std::array<std::string_view, 6> kMemoryBlockFileNames = {
    "phys_index", "state", "phys_device", "removable", "valid_zones", "online",
};
inline constexpr std::string_view kBlockSizeBytesPath = "memory/block_size_bytes";

// A path of memory/ that `show` takes: block_size_bytes (no block), or a
// block's file (its number and the file's position in kMemoryBlockFileNames).
struct MemoryFilePath {
  std::optional<uint64_t> block;
  size_t file = 0;
  friend bool operator==(const MemoryFilePath&, const MemoryFilePath&) = default;
};
// nullopt unless `path` is "memory/block_size_bytes" or "memory/memoryN/NAME"
// with N in decimal without leading zeros (the kernel's memoryN names).
// Whether block N exists is the machine's to say.
std::optional<MemoryFilePath> parse_memory_file_path(std::string_view path);

}  // namespace memd::protocol
