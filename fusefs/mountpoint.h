// Where memd mounts: making the directory ready (a stale mount of a killed
// daemon cleaned up, a live one refused) and finding a mount by its point in
// /proc/self/mountinfo. Nothing here touches a path under a mount it finds:
// safe while the mount's own daemon does not serve it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fusefs/backend.h"

namespace memd::fusefs {

// `path` without links, "." or "..", as /proc/self/mountinfo spells mount points.
// Only before memd mounts there: resolving a path may ask the file system on it.
std::string resolved_path(const std::string& given);

// The mount on top at `path` (resolved), as /proc/self/mountinfo lists it, if any.
struct MountInfo {
  uint64_t id = 0;   // the mount's unique id
  std::string type;  // "fuse.memd", "tmpfs", ...
};
std::optional<MountInfo> mount_at(const std::string& path);

// Makes `path` ready to be mounted on: created if missing (`make_dirs`); a
// stale memd mount (its daemon killed: ENOTCONN) detached; a live mount
// refused; a directory that holds files refused unless `nonempty` (then it
// is logged: the files are hidden while memd runs). Returns why not, or ""
// when the path is ready.
std::string prepare_mountpoint(const std::string& path, const MakeDirs& make_dirs,
                               const LogSink& log, bool nonempty = false);

}  // namespace memd::fusefs
