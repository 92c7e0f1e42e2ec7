// The one owner of the emulated machine. The control file and the socket run
// commands through execute(); the mount takes counter snapshots with stats().
// Replies are protocol/'s (Reply, Failure); the Service fills them from the
// machine.
//
// Its jobs, one file each: the lock and the machine (service.cpp), the
// commands on the machine (machine_commands.cpp), replay sessions
// (replay_session.cpp), snapshots and their admission (snapshot.cpp), the
// tracepoints' command, clock and readers (trace_commands.cpp), memory blocks
// going offline and online (memory_commands.cpp).
//
// Thread-safe. One mutex (mu_) guards the machine and the replay in progress;
// a command runs whole under it, so no reader ever sees it half applied.
// Replies are formatted, and files rendered, outside it. A replay applies its
// trace in batches of kReplayBatchBytes, releasing the lock between them so
// that readers and other clients interleave with it. A member named *_locked
// runs with mu_ held and says so (REQUIRES(mu_)); the suffix means nothing
// else here (clang -Wthread-safety checks it).
//
// The machine's state (Machine::save_state) leaves as `snapshot save` and
// memd's state file, and comes back as `snapshot load` and at start; a load
// is restored outside the lock and swapped in whole, like `reset`.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/machine.h"
#include "core/render.h"
#include "core/trace.h"
#include "daemon/command.h"
#include "daemon/mutex.h"
#include "protocol/files.h"

namespace memd {

class TraceReader;

// One client of the command language: an open control file or a socket connection.
struct Client {
  enum class Origin : uint8_t { kControlFile, kSocket };
  Origin origin = Origin::kSocket;
  uid_t uid = 0;
  uint64_t replay_session = 0;    // the streaming replay this client runs; 0 if none
  bool loading_snapshot = false;  // admitted to send the bytes of a `snapshot load`
  // The client's command name (/proc/PID/comm): the task the kernel's reports
  // name, as they name `current` ("bash: page allocation failure: ...").
  std::string comm = "memd";
  pid_t pid = 0;  // the peer's (socket) or the opener's (control file); the trace's task pid
  uint64_t unlogged = 0;  // its log lines over the rate limit, not written yet (command_log.h)
};

inline constexpr size_t kReplayBatchBytes = 64 * 1024;

class Service {
 public:
  // Boots the machine; the error is the core's, naming what it refused.
  static Result<std::unique_ptr<Service>> boot(const MachineConfig& config);
  // Rebuilds the machine from saved state (memd's state file); the error is
  // the core's "state refused: ..." and nothing is half loaded.
  static Result<std::unique_ptr<Service>> restore(const MachineConfig& config,
                                                  std::string_view state);
  // An exact copy of this Service: its machine (Machine::clone: state, log,
  // trace buffer), its configuration and bounds, its `trace` settings. For
  // fuzzing, which starts every input from a copy of one booted Service
  // instead of booting again. Refused while a replay (running, or kept for
  // `replay begin continue`) or an admitted snapshot load belongs to a client.
  Result<std::unique_ptr<Service>> clone() const EXCLUDES(mu_);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Parses and runs one command line.
  Reply execute(std::string_view line, Client* client) EXCLUDES(mu_);
  Reply run(const Command& command, Client* client) EXCLUDES(mu_);
  // run(command, client).json_line() appended to `out`, for the socket; returns
  // the reply's raw bytes to send after it (`snapshot save`'s state), if any.
  // A successful `alloc`, the commonest line, is written without building a
  // Reply (protocol::append_alloc_line).
  std::shared_ptr<const std::string> run_into(const Command& command, Client* client,
                                              std::string* out) EXCLUDES(mu_);
  // memd is stopping: a running replay ends at its next batch.
  void stop();
  // Whether `client` runs the replay in progress (a replay ended by `reset`
  // or `snapshot load` leaves its client's session behind, stale).
  bool owns_replay(const Client* client) EXCLUDES(mu_);
  // The N bytes of a `replay data bytes=N` frame, once fully received.
  Reply replay_data(Client* client, std::string_view bytes) EXCLUDES(mu_);
  // A `snapshot load bytes=N` line, before its bytes are read: admits one
  // load at a time, of at most max_state_bytes(). A refusal means the bytes
  // will not be read (the socket server closes the connection).
  Reply begin_snapshot_load(Client* client, uint64_t bytes);
  // The N bytes of an admitted load, once all arrived: restored on this
  // configuration outside the lock, then swapped in whole (a running replay
  // ends, as with `reset`). Refused state leaves the machine untouched.
  Reply snapshot_load(Client* client, std::string_view bytes) EXCLUDES(mu_);
  // A client went away: rolls its running replay back (the machine as it was
  // before the replay began) and ends its load.
  void disconnect(Client* client) EXCLUDES(mu_);

  // The machine's state, for memd's state file at a clean stop.
  std::string save_state() EXCLUDES(mu_);
  uint64_t live_allocations() EXCLUDES(mu_);
  // The most bytes a state of this machine can take: a state's fixed part
  // (counters, pageblock types, list lengths) plus 16 bytes per page, as a
  // machine full of order-0 allocations needs: about 16 MiB for 4 GiB, 16 GiB
  // for 4 TiB.
  uint64_t max_state_bytes() const { return max_state_bytes_; }

  // The machine's counters, copied under the lock (shared while the machine
  // does not change).
  std::shared_ptr<const MachineStats> stats() EXCLUDES(mu_);
  std::string render(ProcFile file) EXCLUDES(mu_);
  // The memory blocks (/sys/devices/system/memory), copied under the lock:
  // which blocks exist and their node links are fixed by the configuration,
  // so the mount lists them once; their states are the machine's.
  MemoryBlocks memory_blocks() EXCLUDES(mu_);
  // memory/block_size_bytes, and memory/memoryN/<file> as the kernel prints
  // them now; "" for a block the machine does not have.
  std::string render_block_size_bytes() EXCLUDES(mu_);
  std::string render_memory_block(uint64_t block_id, MemoryBlockFile file) EXCLUDES(mu_);
  // A write to memory/memoryN/state or online, as the kernel's state_store()
  // and online_store() take it (daemon/memory_commands.cpp).
  Reply write_memory_block(uint64_t block, MemoryBlockFile file, std::string_view value,
                           const Client& client) EXCLUDES(mu_);
  // "x86_64, 4096 MiB in 1 node, 2 CPUs": for STATUS= and the log.
  std::string shape() EXCLUDES(mu_);
  const std::vector<std::string>& boot_warnings() const { return boot_warnings_; }

  // trace_pipe: takes at most max_bytes of whole lines from the trace buffer;
  // "" when it is empty.
  std::string consume_trace(size_t max_bytes) EXCLUDES(mu_);
  bool trace_ready() EXCLUDES(mu_);
  // Called after commands that may have traced events (never under mu_),
  // for readers of trace_pipe waiting for them; nullptr to stop.
  void set_trace_notifier(std::function<void()> notify) EXCLUDES(notify_mu_);

 private:
  // snapshot_load() but the log line.
  Reply load_snapshot_bytes(Client* client, std::string_view bytes) EXCLUDES(mu_);
  // Takes mu_, counting the threads that wait for it so that long operations
  // can step aside between batches (let_others_in).
  class SCOPED_CAPABILITY Lock {
   public:
    explicit Lock(const Service* s) ACQUIRE(s->mu_) : s_(s) {
      s_->waiters_.fetch_add(1, std::memory_order_relaxed);
      s_->mu_.lock();
      s_->waiters_.fetch_sub(1, std::memory_order_relaxed);
    }
    ~Lock() RELEASE() { s_->mu_.unlock(); }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    const Service* s_;
  };

  // max_state_bytes(): from the size of one state of the machine (state_bound()).
  struct Bound {
    uint64_t max_state_bytes;
  };
  Service(const MachineConfig& config, std::unique_ptr<Machine> machine, Bound bound);

  Reply dispatch(const Command& command, Client* client) EXCLUDES(mu_);
  std::shared_ptr<const MachineStats> stats_locked() REQUIRES(mu_);
  std::string render_pageblocks() EXCLUDES(mu_);

  Reply alloc(const AllocCommand& c, const Client& client) EXCLUDES(mu_);
  // Makes the allocations `c` asks for into `made`, up to the first the
  // allocator refuses (`failure`); returns the reply only when `c` is refused
  // before anything changes (bad input).
  std::optional<Reply> make_allocations(const AllocCommand& c, const Client& client,
                                        std::vector<Allocation>* made,
                                        std::optional<Error>* failure) EXCLUDES(mu_);
  // The JSON line of `alloc`, written directly when it succeeded.
  void alloc_into(const Command& command, const AllocCommand& c, Client* client, std::string* out)
      EXCLUDES(mu_);
  Reply free(const FreeCommand& c, const Client& client) EXCLUDES(mu_);
  Reply allocations(const AllocationsCommand& c) EXCLUDES(mu_);
  // `memory offline|online block=N`: Machine::offline_block/online_block.
  Reply memory(const MemoryCommand& c, const Client& client) EXCLUDES(mu_);
  HotplugResult memory_locked(const MemoryCommand& c, const Client& client) REQUIRES(mu_);
  Reply free_pages(const FreeCommand& c, const Client& client) EXCLUDES(mu_);
  Reply trace(const TraceCommand& c) EXCLUDES(mu_);
  // The machine acts for `client` from now on: the task its reports and its
  // trace events name, at the daemon's clock (CLOCK_MONOTONIC).
  void act_for_locked(const Client& client) REQUIRES(mu_);
  // While events are on: wakes trace_pipe's readers (after a command, outside mu_).
  void wake_trace_readers() EXCLUDES(notify_mu_);
  // The live allocations `c` names, each once, or why not (nothing is freed).
  Result<std::vector<Allocation>> free_targets_locked(const FreeCommand& c) REQUIRES(mu_);
  Reply sysctl(const SysctlCommand& c, const Client& client) EXCLUDES(mu_);
  // A 0400 file (pagetypeinfo, trace) for root and memd's own user only, as
  // the mount's modes say: one rule for the mount, the socket and control.
  Reply show(const ShowCommand& c, const Client& client) EXCLUDES(mu_);
  Reply show_memory_file(std::string_view name, const protocol::MemoryFilePath& path) EXCLUDES(mu_);
  Reply replay(const ReplayCommand& c, Client* client) EXCLUDES(mu_);
  Reply replay_begin_locked(const ReplayCommand& c, Client* client) REQUIRES(mu_);
  // `replay end` and `replay abort` of the client's running replay.
  Reply replay_end_locked(ReplayCommand::Op op) REQUIRES(mu_);
  Reply replay_file(const std::string& path, Client* client) EXCLUDES(mu_);
  // Feeds session `session` from `reader` to the end and finishes it.
  Reply replay_from(TraceReader& reader, uint64_t session) EXCLUDES(mu_);
  Reply reset() EXCLUDES(mu_);
  Reply snapshot(const SnapshotCommand& c, Client* client) EXCLUDES(mu_);
  // Swaps `machine` in (a running replay ends); returns the machine it replaced.
  std::unique_ptr<Machine> replace_machine(std::unique_ptr<Machine> machine) EXCLUDES(mu_);
  Reply check() EXCLUDES(mu_);
  Reply status() EXCLUDES(mu_);

  // Starts a replay session and returns its id; 0 if one runs already. The
  // session continues the kept Replayer (`continue_previous`, which the
  // caller checked is there) or starts a new one.
  // `holder`: the client running it, named by `status`.
  uint64_t begin_replay_locked(bool continue_previous, const Client& holder) REQUIRES(mu_);
  // Ends the replay, keeping what it applied: a kept partial line is
  // dropped, the history ends (the rows not yet sent are returned) and the
  // Replayer stays for a `replay begin continue`.
  std::string end_replay_locked() REQUIRES(mu_);
  // Ends the replay and forgets its Replayer (the machine it maps goes away).
  void drop_replay_locked() REQUIRES(mu_);
  // A replay that stops on an error (a trace file cut short, its client gone
  // or silent, memd stopping) leaves the machine as it was before it began:
  // the machine is put back from replay_origin_ (everything done to it since,
  // by any client, is undone; the trace buffer keeps the events it recorded)
  // and so is the replay state: `continue` goes on from the replay (or the
  // part) before it, as after a refused eventless one.
  // Returns false when it could not: another client changed the machine
  // while the replay ran (changed_by_locked), and the replay ended keeping
  // what it applied.
  bool roll_back_replay_locked() REQUIRES(mu_);
  // `client` changes the machine (alloc, free, a sysctl write): while another
  // client's replay runs, that replay can no longer be rolled back without
  // undoing this too, so its origin is let go.
  void changed_by_locked(const Client& client) REQUIRES(mu_);
  // What a replay that stopped on an error says of the machine.
  static std::string_view rollback_text(bool rolled_back);
  // Applies the replay's kept partial line and ends it (end_replay_locked).
  std::string finish_replay_locked() REQUIRES(mu_);
  // After finish_replay_locked: a replay (or continued part) that met no
  // mm_page_alloc or mm_page_free event applied nothing and is refused
  // (kNotATrace, saying what was read), the replay state put back as it was
  // before it began, so that `continue` goes on from the replay before it.
  std::optional<Reply> refuse_eventless_locked() REQUIRES(mu_);
  // Applies text to session `session` in batches; if the session ended
  // meanwhile (or ends now because its history passed its bound), why.
  std::optional<std::string> feed_in_batches(uint64_t session, std::string_view text) EXCLUDES(mu_);
  // Yields the CPU to threads waiting for mu_, between two batches of a long operation.
  void let_others_in() const;
  void changed_locked() REQUIRES(mu_) { ++generation_; }

  const MachineConfig config_;
  std::vector<std::string> boot_warnings_;
  uint64_t max_state_bytes_ = 0;
  std::atomic<bool> loading_{false};  // a client has been admitted to send a `snapshot load`
  mutable Mutex mu_;
  mutable std::atomic<int> waiters_{0};  // threads blocked on mu_
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Machine> machine_ GUARDED_BY(mu_);
  uint64_t generation_ GUARDED_BY(mu_) = 0;  // bumped by every change of the machine
  std::shared_ptr<const MachineStats> stats_ GUARDED_BY(mu_);
  uint64_t stats_generation_ GUARDED_BY(mu_) = ~0ULL;
  std::shared_ptr<const PageblockSnapshot> pageblocks_ GUARDED_BY(mu_);
  uint64_t pageblocks_generation_ GUARDED_BY(mu_) = ~0ULL;
  // The running replay's, or else the last replay's, kept for `replay begin
  // continue` until the machine is replaced (reset, snapshot load).
  std::unique_ptr<Replayer> replayer_ GUARDED_BY(mu_);
  uint64_t replay_session_ GUARDED_BY(mu_) = 0;  // the running replay's id; 0 if none
  protocol::MachineStatus::Holder replay_holder_ GUARDED_BY(mu_);  // who runs it
  uint64_t replay_lines_ GUARDED_BY(mu_) = 0;  // lines the running session applied
  uint64_t next_session_ GUARDED_BY(mu_) = 1;
  // What the running session replaced, put back if it ends without an event:
  // the previous Replayer (a new replay), or the report before this part (`continue`).
  std::unique_ptr<Replayer> previous_replayer_ GUARDED_BY(mu_);
  std::optional<ReplayReport> report_before_part_ GUARDED_BY(mu_);
  // The machine as it was when the running replay began (a copy: about 12
  // bytes a page), for roll_back_replay_locked().
  std::unique_ptr<Machine> replay_origin_ GUARDED_BY(mu_);
  // A continued part's: the Replayer as it was when the part began.
  std::unique_ptr<Replayer> replayer_origin_ GUARDED_BY(mu_);
  // `trace` settings, carried over to every new machine (reset, snapshot load).
  uint32_t trace_mask_ GUARDED_BY(mu_) = 0;
  uint64_t trace_kb_ GUARDED_BY(mu_) = 0;  // 0: the kernel's default
  std::atomic<bool> tracing_{false};       // trace_mask_ != 0, read without mu_
  Mutex notify_mu_;
  std::function<void()> trace_notify_ GUARDED_BY(notify_mu_);
};

}  // namespace memd
