// memd's files as the FUSE adapter (fusefs/) asks for them: `control` and
// the kernel's files at the mount's root, rendered and run by the Service.
// The only place that joins the adapter to the Service.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/config.h"
#include "daemon/service.h"
#include "fusefs/backend.h"
#include "fusefs/fuse_mount.h"

namespace memd {

class MountBackend final : public fusefs::Backend {
 public:
  explicit MountBackend(Service* service) : service_(service) {}

  // "control" (0600, a command file), then kProcFiles in order: inodes 2, 3, ...;
  // trace_pipe; then memory/ (block_size_bytes, memoryN/ with the block's
  // files and nodeK links) and node/nodeK/, the links' targets.
  std::vector<fusefs::Entry> entries() const override;
  std::string render(fusefs::FileId file) override;
  // A control file's session is a Client of its opener's uid; it first reads the help.
  CommandOpen open_command(fusefs::FileId file, const fusefs::Caller& caller) override;
  fusefs::CommandReply run(Session& session, std::string_view line) override;
  // Ends the open's replay, if it ran one (Service::disconnect).
  void close(Session& session) override;
  // trace_pipe: the Service's trace buffer, consumed.
  std::unique_ptr<Session> open_pipe(fusefs::FileId file, const fusefs::Caller& caller) override;
  std::string read_pipe(Session& session, size_t max_bytes) override;
  bool pipe_ready(Session& session) override;
  void set_pipe_notifier(std::function<void()> notify) override;

 private:
  static void add_memory_entries(const MemoryBlocks& blocks, std::vector<fusefs::Entry>* entries);

  Service* service_;
};

// The mount's options from memd's settings, with memd's log and make_dirs.
fusefs::MountOptions mount_options(const DaemonSettings& settings);

}  // namespace memd
