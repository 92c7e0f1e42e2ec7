#include "daemon/mount_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <memory>

#include "daemon/log.h"
#include "daemon/system.h"

namespace memd {
namespace {

// The control file's id and trace_pipe's; the kernel's files are numbered by
// their place in kProcFiles.
constexpr fusefs::FileId kControlFile = kProcFiles.size();
constexpr fusefs::FileId kTracePipe = kControlFile + 1;
// memory/block_size_bytes, then the files of memory/memoryN/ at
// kBlockFiles + N * kBlockFileSlots + the file's place in kMemoryBlockFiles.
constexpr fusefs::FileId kBlockSizeBytes = kTracePipe + 1;
constexpr fusefs::FileId kBlockFiles = kBlockSizeBytes + 1;
constexpr fusefs::FileId kBlockFileSlots = 8;
static_assert(std::size(kMemoryBlockFiles) <= kBlockFileSlots);

// An open trace_pipe: its reads take from the one trace buffer, like the kernel's.
struct PipeSession final : fusefs::Backend::Session {};

// An open control file: one client of the command language.
struct ControlSession final : fusefs::Backend::Session {
  Client client;
};

// An open memory/memoryN/state or online: its writes go to the block.
struct BlockFileSession final : fusefs::Backend::Session {
  Client client;
  uint64_t block = 0;
  MemoryBlockFile file = MemoryBlockFile::kState;
};

// Writable like the kernel's (state and online are 0644 in sysfs).
bool writable(MemoryBlockFile file) {
  return file == MemoryBlockFile::kState || file == MemoryBlockFile::kOnline;
}

Client client_of(const fusefs::Caller& caller) {
  Client client;
  client.origin = Client::Origin::kControlFile;
  client.uid = caller.uid;
  client.comm = process_comm(caller.pid);
  client.pid = caller.pid;
  return client;
}

int errno_for(Failure f) {
  switch (f) {
    case Failure::kNone:
      return 0;
    case Failure::kBadInput:
      return EINVAL;
    case Failure::kAllocFailed:
      return ENOMEM;
    case Failure::kBusy:
      return EBUSY;
    case Failure::kDenied:
      return EPERM;
    case Failure::kCheckFailed:
    case Failure::kIo:
    case Failure::kInternal:
      return EIO;
    case Failure::kNotATrace:
      return ENODATA;
    case Failure::kInterrupted:
      return EINTR;
  }
  return EINVAL;
}

log::Level level_of(fusefs::LogLevel level) {
  switch (level) {
    case fusefs::LogLevel::kErr:
      return log::Level::kErr;
    case fusefs::LogLevel::kWarning:
      return log::Level::kWarning;
    case fusefs::LogLevel::kNotice:
      return log::Level::kNotice;
    case fusefs::LogLevel::kInfo:
      return log::Level::kInfo;
    case fusefs::LogLevel::kDebug:
      return log::Level::kDebug;
  }
  return log::Level::kErr;
}

}  // namespace

std::vector<fusefs::Entry> MountBackend::entries() const {
  std::vector<fusefs::Entry> entries;
  entries.push_back({"control", fusefs::Kind::kCommand, 0600, kControlFile});
  for (size_t i = 0; i < kProcFiles.size(); ++i) {
    entries.push_back({std::string(proc_file_name(kProcFiles[i])), fusefs::Kind::kRendered,
                       proc_file_mode(kProcFiles[i]), static_cast<fusefs::FileId>(i)});
  }
  entries.push_back({"trace_pipe", fusefs::Kind::kPipe, 0400, kTracePipe});
  add_memory_entries(service_->memory_blocks(), &entries);
  return entries;
}

// memory/, shaped like /sys/devices/system/memory: block_size_bytes, then a
// directory per block with its files (state and online writable, 0644, as
// command files whose reads show the file) and its node links; node/nodeK/
// exists so that the links resolve.
void MountBackend::add_memory_entries(const MemoryBlocks& blocks,
                                      std::vector<fusefs::Entry>* entries) {
  if (blocks.blocks().empty()) {
    return;  // i386: no memory hotplug, no memory/
  }
  entries->push_back({"memory/block_size_bytes", fusefs::Kind::kRendered, 0444, kBlockSizeBytes});
  std::vector<int> nodes;
  for (const MemoryBlock& b : blocks.blocks()) {
    const std::string dir = fmt::format("memory/memory{}/", b.id);
    for (size_t i = 0; i < std::size(kMemoryBlockFiles); ++i) {
      const bool rw = writable(kMemoryBlockFiles[i]);
      entries->push_back({dir + std::string(memory_block_file_name(kMemoryBlockFiles[i])),
                          rw ? fusefs::Kind::kCommand : fusefs::Kind::kRendered,
                          rw ? mode_t{0644} : mode_t{0444},
                          kBlockFiles + static_cast<fusefs::FileId>(b.id) * kBlockFileSlots +
                              static_cast<fusefs::FileId>(i)});
    }
    for (int nid : b.nodes) {
      entries->push_back({dir + fmt::format("node{}", nid), fusefs::Kind::kSymlink, 0777, 0,
                          memory_block_node_link_target(nid)});
      nodes.push_back(nid);
    }
  }
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  for (int nid : nodes) {
    entries->push_back({fmt::format("node/node{}", nid), fusefs::Kind::kDirectory, 0555, 0});
  }
}

std::string MountBackend::render(fusefs::FileId file) {
  if (file == kBlockSizeBytes) {
    return service_->render_block_size_bytes();
  }
  if (file >= kBlockFiles) {
    const fusefs::FileId slot = (file - kBlockFiles) % kBlockFileSlots;
    return service_->render_memory_block((file - kBlockFiles) / kBlockFileSlots,
                                         kMemoryBlockFiles[slot]);
  }
  return service_->render(kProcFiles.at(file));
}

MountBackend::CommandOpen MountBackend::open_command(fusefs::FileId file,
                                                     const fusefs::Caller& caller) {
  if (file >= kBlockFiles) {  // memory/memoryN/state or online: reads show the file
    auto session = std::make_unique<BlockFileSession>();
    session->client = client_of(caller);
    session->block = (file - kBlockFiles) / kBlockFileSlots;
    session->file = kMemoryBlockFiles[(file - kBlockFiles) % kBlockFileSlots];
    std::string text = service_->render_memory_block(session->block, session->file);
    return {std::move(session), std::move(text)};
  }
  auto session = std::make_unique<ControlSession>();
  session->client = client_of(caller);
  return {std::move(session), std::string(command_help())};
}

fusefs::CommandReply MountBackend::run(Session& session, std::string_view line) {
  if (auto* block = dynamic_cast<BlockFileSession*>(&session)) {
    Reply reply = service_->write_memory_block(block->block, block->file, line, block->client);
    // The next read of this open shows the file as it is now, as sysfs's would.
    return {errno_for(reply.failure), service_->render_memory_block(block->block, block->file),
            reply.ok() ? std::string() : reply.error_message()};
  }
  Reply reply = service_->execute(line, &static_cast<ControlSession&>(session).client);
  return {errno_for(reply.failure), std::move(reply.text),
          reply.ok() ? std::string() : reply.error_message()};
}

void MountBackend::close(Session& session) {
  if (auto* control = dynamic_cast<ControlSession*>(&session)) {
    service_->disconnect(&control->client);
  }
}

std::unique_ptr<MountBackend::Session> MountBackend::open_pipe(fusefs::FileId,
                                                               const fusefs::Caller&) {
  return std::make_unique<PipeSession>();
}

std::string MountBackend::read_pipe(Session&, size_t max_bytes) {
  return service_->consume_trace(max_bytes);
}

bool MountBackend::pipe_ready(Session&) {
  return service_->trace_ready();
}

void MountBackend::set_pipe_notifier(std::function<void()> notify) {
  service_->set_trace_notifier(std::move(notify));
}

fusefs::MountOptions mount_options(const DaemonSettings& settings) {
  fusefs::MountOptions options;
  options.mountpoint = settings.mount;
  options.allow_other = settings.allow_other;
  options.nonempty = settings.nonempty;
  options.max_threads = settings.fuse_threads;
  options.log = [](fusefs::LogLevel level, std::string_view line) {
    log::write(level_of(level), line);
  };
  options.make_dirs = [](const std::string& path, mode_t mode) {
    Status made = make_dirs(path, mode);
    return made ? std::string() : made.error().message;
  };
  return options;
}

}  // namespace memd
