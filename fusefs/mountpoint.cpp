#include "fusefs/mountpoint.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace memd::fusefs {
namespace {

// A mount point as mountinfo writes it, with its \040-style escapes undone.
std::string unescape_mountinfo(const std::string& field) {
  std::string unescaped;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      unescaped += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                     (field[i + 3] - '0'));
      i += 3;
    } else {
      unescaped += field[i];
    }
  }
  return unescaped;
}

// Detaches a mount whose daemon is gone; returns why not, or "".
std::string unmount_stale(const std::string& path) {
  if (geteuid() == 0) {
    if (umount2(path.c_str(), MNT_DETACH) != 0) {
      return fmt::format("{}: cannot unmount the stale mount: {}", path, std::strerror(errno));
    }
    return {};
  }
  pid_t pid = fork();
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", "-z", "-q", path.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fmt::format("{}: fusermount3 -u -z could not unmount the stale mount", path);
  }
  return {};
}

std::string make_dir(const MakeDirs& make_dirs, const std::string& path) {
  if (make_dirs) {
    return make_dirs(path, 0755);
  }
  if (mkdir(path.c_str(), 0755) != 0) {
    return fmt::format("{}: {}", path, std::strerror(errno));
  }
  return {};
}

// "" if `path` holds no entry or `nonempty` allows it (said in the log); else why not.
std::string check_empty(const std::string& path, bool nonempty, const LogSink& log) {
  DIR* dir = opendir(path.c_str());
  if (!dir) {
    return fmt::format("{}: {}", path, std::strerror(errno));
  }
  size_t entries = 0;
  while (const dirent* e = readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") {
      ++entries;
    }
  }
  closedir(dir);
  if (entries == 0) {
    return {};
  }
  if (!nonempty) {
    return fmt::format(
        "{}: the mount point is not empty ({} entries); mount over it with --nonempty "
        "or daemon.nonempty = true",
        path, entries);
  }
  if (log) {
    log(LogLevel::kWarning,
        fmt::format("{}: mounting over a directory that is not empty ({} entries, hidden while "
                    "memd runs; nonempty)",
                    path, entries));
  }
  return {};
}

}  // namespace

std::string resolved_path(const std::string& given) {
  char resolved[PATH_MAX];
  return realpath(given.c_str(), resolved) ? resolved : given;
}

std::optional<MountInfo> mount_at(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::optional<MountInfo> top;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (unescape_mountinfo(point) != path) {
      continue;
    }
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    std::istringstream rest(line.substr(dash + 3));
    std::string fstype;
    rest >> fstype;
    top = MountInfo{std::strtoull(id.c_str(), nullptr, 10), fstype};  // the last listed is on top
  }
  return top;
}

// statfs() always asks the daemon, where stat() may answer from the kernel's cache.
std::string prepare_mountpoint(const std::string& path, const MakeDirs& make_dirs,
                               const LogSink& log, bool nonempty) {
  // Another user's link would let them choose where memd mounts (over /usr/bin, say).
  struct stat link {};
  if (lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode) && link.st_uid != 0 &&
      link.st_uid != geteuid()) {
    return fmt::format(
        "{}: a symbolic link of uid {}: memd mounts only through links of root or its own user",
        path, link.st_uid);
  }
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) {
    if (errno == ENOTCONN || errno == ECONNABORTED) {
      if (log) {
        log(LogLevel::kNotice, path + ": cleaning up a stale mount left by a memd that is gone");
      }
      if (std::string why = unmount_stale(path); !why.empty()) {
        return why;
      }
      return prepare_mountpoint(path, make_dirs, log, nonempty);
    }
    if (errno != ENOENT) {
      return fmt::format("{}: {}", path, std::strerror(errno));
    }
    return make_dir(make_dirs, path);
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fmt::format("{}: not a directory", path);
  }
  if (auto top = mount_at(resolved_path(path))) {
    if (top->type == "fuse.memd") {
      return fmt::format("{}: another memd is already mounted here and running; stop it first",
                         path);
    }
    return fmt::format("{}: something else is mounted here (type {})", path, top->type);
  }
  return check_empty(path, nonempty, log);
}

}  // namespace memd::fusefs
