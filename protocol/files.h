// The files the mount serves, by name, in the order a directory listing shows
// them: the one list memctl's `show`, the daemon's `show`, `--print` and the
// help text use. The core renders them (core/render.h, ProcFile in this
// order); the daemon maps a name to its ProcFile in one place
// (daemon/command.h, proc_file_named).
#pragma once

#include <array>
#include <cstddef>
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

}  // namespace memd::protocol
