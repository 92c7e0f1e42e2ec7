#include "client/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "client/exchange.h"
#include "client/memctl.h"
#include "client/request.h"
#include "protocol/reply.h"

namespace memd::client {
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace

// --- AtomicFile ------------------------------------------------------------------------------

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return make_error("cannot write " + path + ": it is a directory");
  }
  std::string temp = path + ".XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return make_error("cannot write " + errno_text(path));
  const mode_t mask = umask(0);  // the mode a plain create would give
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  return AtomicFile(path, std::move(temp), fd);
}

AtomicFile::AtomicFile(std::string path, std::string temp, int fd)
    : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : path_(std::move(o.path_)), temp_(std::move(o.temp_)), fd_(std::exchange(o.fd_, -1)) {}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) unlink(temp_.c_str());
}

Status AtomicFile::write(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error("cannot write " + errno_text(path_));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status AtomicFile::commit() {
  if (fsync(fd_) != 0) return make_error("cannot write " + errno_text(path_));
  if (::close(std::exchange(fd_, -1)) != 0) return make_error("cannot write " + errno_text(path_));
  if (rename(temp_.c_str(), path_.c_str()) != 0) {
    return make_error("cannot write " + errno_text(path_));
  }
  temp_.clear();
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);  // the rename, durable
    ::close(dfd);
  }
  return {};
}

Result<std::string> read_all(const std::string& path) {
  const int fd = path == "-" ? dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot read " + errno_text(path));
  std::string data;
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) data.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = make_error("cannot read " + errno_text(path));
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

// --- over the socket -------------------------------------------------------------------------

namespace {

// The N bytes after a `snapshot save` reply, to `file` or `out`; `local` says
// whether a failure was the file's (or stdout's) rather than the connection's.
Status receive_state(Connection* conn, uint64_t bytes, AtomicFile* file, std::ostream& out,
                     bool* local) {
  return conn->read_bytes(bytes, [&](std::string_view piece) -> Status {
    if (file) {
      Status st = file->write(piece);
      *local = !st.ok();
      return st;
    }
    out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    *local = !out.good();
    if (*local) return make_error("cannot write the state to stdout");
    return {};
  });
}

}  // namespace

int snapshot_save(Connection* conn, const std::string& path, AtomicFile* file, bool json,
                  std::ostream& out, std::ostream& err) {
  namespace field = protocol::field;
  Exchange x =
      ask(conn, command_line(protocol::SnapshotCommand{protocol::SnapshotCommand::Op::kSave}), err);
  if (!x.ok()) return x.status;
  if (!reply_ok(x.reply)) {
    if (json) out << x.line << '\n';
    return fail(err, refusal_status(x.reply), error_message(x.reply));
  }
  auto bytes = x.reply.find(field::kBytes);
  if (bytes == x.reply.end() || !bytes->is_number_unsigned()) {
    return fail(err, kExitUnreachable, "memd's reply has no byte count: " + x.line.substr(0, 200));
  }
  bool local = false;
  if (Status st = receive_state(conn, bytes->get<uint64_t>(), file, out, &local); !st) {
    return fail(err, local ? kExitUsage : kExitUnreachable, st.error().message);
  }
  if (file) {
    if (Status st = file->commit(); !st) return fail(err, kExitUsage, st.error().message);
    if (json) {
      out << x.line << '\n';
    } else {
      out << "saved " << reply_number(x.reply, field::kAllocations) << " allocations ("
          << bytes->get<uint64_t>() << " bytes) to " << path << "\n";
    }
  }
  out.flush();
  return kExitOk;
}

int snapshot_load(Connection* conn, const std::string& path, const std::string& state, bool json,
                  std::ostream& out, std::ostream& err) {
  namespace field = protocol::field;
  Status sent = conn->send(
      command_line(protocol::SnapshotCommand{protocol::SnapshotCommand::Op::kLoad, state.size()}) +
      "\n");
  if (sent) sent = conn->send(state);
  // Read the reply even when sending failed: memd refuses a load it will not
  // take (too large, another load running) at once and closes the connection.
  auto line = conn->read_line();
  if (!line && !sent) return fail(err, kExitUnreachable, sent.error().message);
  Exchange x = decode(std::move(line), err);
  if (!x.ok()) return x.status;
  if (json) out << x.line << '\n';
  if (!reply_ok(x.reply)) {
    out.flush();
    return fail(err, refusal_status(x.reply), error_message(x.reply));
  }
  if (!json) {
    out << "loaded " << path << ": " << x.reply.value(field::kMachine, std::string("?")) << ", "
        << reply_number(x.reply, field::kAllocations) << " allocations\n";
  }
  out.flush();
  return kExitOk;
}

}  // namespace memd::client
