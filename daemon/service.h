// The one owner of the emulated machine. The control file and the socket run
// commands through execute(); the mount takes counter snapshots with stats().
//
// Thread-safe. One mutex (mu_) guards the machine and the replay in progress;
// a command runs whole under it, so no reader ever sees it half applied.
// Replies are formatted, and files rendered, outside it. A replay applies its
// trace in batches of kReplayBatchBytes, releasing the lock between them so
// that readers and other clients interleave with it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/machine.h"
#include "core/render.h"
#include "core/trace.h"
#include "daemon/command.h"
#include "daemon/mutex.h"

namespace memd {

// Why a command failed; the front ends map it to errno (control file) or
// just pass the message (socket).
enum class Failure : uint8_t {
  kNone,
  kBadInput,     // the command was wrong: nothing changed
  kAllocFailed,  // the allocator said no (a failed allocation may still boost a watermark)
  kBusy,         // another replay is running
  kDenied,       // this client may not do that
  kCheckFailed,  // `check` found broken invariants
  kIo,           // a trace file could not be read
  kInternal,     // an exception inside memd (out of memory, a bug)
};

struct Reply {  // NOLINT(bugprone-exception-escape): json's moves do not throw
  Failure failure = Failure::kNone;
  nlohmann::ordered_json json;  // the socket's reply: {"ok": ..., ...}
  std::string text;             // the control file's reply: human-readable lines

  bool ok() const { return failure == Failure::kNone; }
  std::string error_message() const;
  // One line of JSON, '\n'-terminated; invalid UTF-8 from clients is replaced, never thrown.
  std::string json_line() const;
  static Reply error(Failure failure, std::string message);
};

// One client of the command language: an open control file or a socket connection.
struct Client {
  enum class Origin : uint8_t { kControlFile, kSocket };
  Origin origin = Origin::kSocket;
  uid_t uid = 0;
  uint64_t replay_session = 0;  // the streaming replay this client runs; 0 if none
};

inline constexpr size_t kReplayBatchBytes = 64 * 1024;

class Service {
 public:
  // Boots the machine; the error is the core's, naming what it refused.
  static Result<std::unique_ptr<Service>> boot(const MachineConfig& config);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Parses and runs one command line.
  Reply execute(std::string_view line, Client* client) EXCLUDES(mu_);
  Reply run(const Command& command, Client* client) EXCLUDES(mu_);
  // memd is stopping: a running replay ends at its next batch.
  void stop();
  // The N bytes of a `replay data bytes=N` frame, once fully received.
  Reply replay_data(Client* client, std::string_view bytes) EXCLUDES(mu_);
  // A client went away: ends its replay, keeping what was applied.
  void disconnect(Client* client) EXCLUDES(mu_);

  // The machine's counters, copied under the lock (shared while the machine
  // does not change).
  std::shared_ptr<const MachineStats> stats() EXCLUDES(mu_);
  std::string render(ProcFile file) EXCLUDES(mu_);
  // "x86_64, 4096 MiB in 1 node, 2 CPUs": for STATUS= and the log.
  std::string shape() EXCLUDES(mu_);
  const std::vector<std::string>& boot_warnings() const { return boot_warnings_; }

 private:
  class SCOPED_CAPABILITY Lock;

  Service(const MachineConfig& config, std::unique_ptr<Machine> machine);

  Reply dispatch(const Command& command, Client* client) EXCLUDES(mu_);
  std::shared_ptr<const MachineStats> stats_locked() REQUIRES(mu_);

  Reply alloc(const AllocCommand& c) EXCLUDES(mu_);
  Reply free(const FreeCommand& c) EXCLUDES(mu_);
  Reply sysctl(const SysctlCommand& c) EXCLUDES(mu_);
  Reply show(const ShowCommand& c) EXCLUDES(mu_);
  Reply replay(const ReplayCommand& c, Client* client) EXCLUDES(mu_);
  Reply replay_file(const std::string& path, Client* client) EXCLUDES(mu_);
  Reply reset() EXCLUDES(mu_);
  Reply check() EXCLUDES(mu_);
  Reply status() EXCLUDES(mu_);

  // Starts a replay session and returns its id; 0 if one runs already.
  uint64_t begin_replay_locked() REQUIRES(mu_);
  // Ends the replay, keeping what it applied.
  void end_replay_locked() REQUIRES(mu_);
  // Applies the replay's kept partial line, ends it and returns its report.
  ReplayReport finish_replay_locked() REQUIRES(mu_);
  // Applies text to session `session` in batches; false if the session ended meanwhile.
  bool feed_in_batches(uint64_t session, std::string_view text) EXCLUDES(mu_);
  // Yields the CPU to threads waiting for mu_, between two batches of a long operation.
  void let_others_in() const;
  void changed_locked() REQUIRES(mu_) { ++generation_; }

  const MachineConfig config_;
  std::vector<std::string> boot_warnings_;
  mutable Mutex mu_;
  mutable std::atomic<int> waiters_{0};  // threads blocked on mu_
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Machine> machine_ GUARDED_BY(mu_);
  uint64_t generation_ GUARDED_BY(mu_) = 0;  // bumped by every change of the machine
  std::shared_ptr<const MachineStats> stats_ GUARDED_BY(mu_);
  uint64_t stats_generation_ GUARDED_BY(mu_) = ~0ULL;
  std::unique_ptr<Replayer> replayer_ GUARDED_BY(mu_);
  uint64_t replay_session_ GUARDED_BY(mu_) = 0;  // the running replay's id; 0 if none
  uint64_t replay_lines_ GUARDED_BY(mu_) = 0;
  uint64_t next_session_ GUARDED_BY(mu_) = 1;
};

}  // namespace memd
