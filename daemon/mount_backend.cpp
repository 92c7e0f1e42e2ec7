#include "daemon/mount_backend.h"

#include <cerrno>
#include <memory>

#include "daemon/log.h"
#include "daemon/system.h"

namespace memd {
namespace {

// The control file's id and trace_pipe's; the kernel's files are numbered by
// their place in kProcFiles.
constexpr fusefs::FileId kControlFile = kProcFiles.size();
constexpr fusefs::FileId kTracePipe = kControlFile + 1;

// An open trace_pipe: its reads take from the one trace buffer, like the kernel's.
struct PipeSession final : fusefs::Backend::Session {};

// An open control file: one client of the command language.
struct ControlSession final : fusefs::Backend::Session {
  Client client;
};

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
  return entries;
}

std::string MountBackend::render(fusefs::FileId file) {
  return service_->render(kProcFiles.at(file));
}

MountBackend::CommandOpen MountBackend::open_command(fusefs::FileId, const fusefs::Caller& caller) {
  auto session = std::make_unique<ControlSession>();
  session->client.origin = Client::Origin::kControlFile;
  session->client.uid = caller.uid;
  session->client.comm = process_comm(caller.pid);
  session->client.pid = caller.pid;
  return {std::move(session), std::string(command_help())};
}

fusefs::CommandReply MountBackend::run(Session& session, std::string_view line) {
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
