// The FUSE mount: the kernel's files (buddyinfo, zoneinfo, ...) and `control`
// at its root, served from a Service with libfuse's low-level API.
//
// Each open of a file renders it once, from a snapshot of the counters, and
// serves every read of that open from the text (size 0 and direct_io, like
// procfs). A write to `control` runs one command; a read of the same open
// file returns its result, a fresh open reads the help.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/result.h"
#include "daemon/service.h"

struct fuse_session;

namespace memd {

struct FsState;  // what the FUSE handlers reach through the session's user data

struct MountOptions {
  std::string mountpoint;
  bool allow_other = false;
  int max_threads = 8;  // FUSE worker threads at most
};

class FuseMount {
 public:
  // Cleans a stale mount left by a killed memd (ENOTCONN), refuses a live one,
  // then mounts. Requests are served once start() runs.
  static Result<std::unique_ptr<FuseMount>> mount(Service* service, const MountOptions& options);
  ~FuseMount();  // stop() and unmount
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Starts the FUSE loop on its own thread; `on_exit` runs on that thread when
  // the loop ends for any reason (also when someone unmounts memd from outside).
  void start(std::function<void()> on_exit);
  // Ends the loop and unmounts. The thread that runs start() must not block SIGUSR1.
  void stop();
  const std::string& mountpoint() const { return options_.mountpoint; }

 private:
  FuseMount(MountOptions options, std::unique_ptr<FsState> state, fuse_session* session);

  MountOptions options_;
  std::unique_ptr<FsState> state_;
  fuse_session* session_;
  std::thread loop_;
  std::atomic<bool> loop_done_{false};
  std::string resolved_mountpoint_;  // as /proc/self/mountinfo spells it
  uint64_t mount_id_ = 0;            // memd's mount in /proc/self/mountinfo; 0 if unknown
};

}  // namespace memd
