// The FUSE mount: a Backend's files served with libfuse's low-level API, on
// a loop thread of its own, and a thread that answers the waiting reads of
// pipe files. The handlers are thin: fusefs/filesystem.h does the work, and
// this file only speaks libfuse.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "fusefs/backend.h"

struct fuse_session;

namespace memd::fusefs {

struct FsState;  // what the FUSE handlers reach through the session's user data

struct MountOptions {
  std::string mountpoint;
  bool allow_other = false;
  bool nonempty = false;  // mount over a directory that holds files; else refused
  int max_threads = 8;    // FUSE worker threads at most
  LogSink log;            // the adapter's and libfuse's log lines; none if empty
  MakeDirs make_dirs;     // creates a missing mount point; mkdir(2) of it alone if empty
};

class FuseMount {
 public:
  // Cleans a stale mount left by a killed memd (ENOTCONN), refuses a live one,
  // then mounts `backend`'s files, which it reads now, and hands the backend
  // its pipe notifier. Requests are served once start() runs. On failure:
  // nullptr, and `error` says why (the backend was given nothing).
  static std::unique_ptr<FuseMount> mount(Backend* backend, MountOptions options,
                                          std::string* error);
  ~FuseMount();  // stop() and unmount
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Starts the FUSE loop and the pipe thread; `on_exit` runs on the loop's thread when
  // the loop ends for any reason (also when someone unmounts memd from outside).
  void start(std::function<void()> on_exit);
  // Ends the loop, answers the reads of pipe files still waiting with end of
  // file, and unmounts. The thread that runs start() must not block SIGUSR1.
  void stop();
  const std::string& mountpoint() const { return options_.mountpoint; }

 private:
  FuseMount(MountOptions options, std::unique_ptr<FsState> state, fuse_session* session);
  void log(LogLevel level, const std::string& line) const;

  MountOptions options_;
  std::unique_ptr<FsState> state_;
  fuse_session* session_;
  std::thread loop_;
  std::thread pipes_;  // answers the reads of pipe files that wait (Filesystem::serve_pipes)
  std::atomic<bool> loop_done_{false};
  std::string resolved_mountpoint_;  // as /proc/self/mountinfo spells it
  uint64_t mount_id_ = 0;            // this mount in /proc/self/mountinfo; 0 if unknown
};

}  // namespace memd::fusefs
