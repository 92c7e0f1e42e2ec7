// memd's state directory ([daemon] state_dir): the machine saved at a clean
// stop as <dir>/memd.state and read at the next start, so that a restart loses
// nothing. One memd uses a directory at a time (an flock on the directory).
// Writes are atomic: a temporary file in the same directory, written and
// fsync()ed, renamed over the old file, then the directory fsync()ed; a failed
// write leaves the previous file as it was.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/result.h"

namespace memd {

class StateDir {
 public:
  enum class OpenError : uint8_t { kBusy, kOther };
  struct Refusal {
    OpenError kind;
    std::string message;
  };

  // Creates the directory (0700, with its parents) if needed, opens and locks
  // it. kBusy: another memd holds it.
  static std::variant<StateDir, Refusal> open(const std::string& dir);

  StateDir(StateDir&& other) noexcept;
  StateDir& operator=(StateDir&&) = delete;
  StateDir(const StateDir&) = delete;
  ~StateDir();  // unlocks

  // The saved state: nullopt when there is none; an error naming the file and
  // errno's text when it exists but cannot be read.
  Result<std::optional<std::string>> read() const;
  // Moves a refused state file aside (memd.state.rejected, replacing an older
  // one) and returns where it went.
  Result<std::string> reject() const;
  // Replaces the state file atomically; the error names the path, the step
  // and errno's text.
  Status write(std::string_view state) const;

  const std::string& path() const { return path_; }

 private:
  StateDir(int fd, std::string dir);
  int fd_ = -1;      // the directory, locked
  std::string dir_;  // as configured
  std::string path_;
};

}  // namespace memd
