#include "traceio/trace_input.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "traceio/decompress.h"
#include "traceio/trace_dat.h"

namespace memd::traceio {

namespace {

constexpr std::string_view kTraceDatMagic("\x17\x08\x44tracing", 10);
constexpr size_t kHeadBytes = 64 << 10;

// Writes all of `bytes` to `fd`; false with errno on a failure.
bool write_all(int fd, const char* bytes, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, bytes, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    bytes += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

bool is_trace_dat(std::string_view head) {
  return head.substr(0, kTraceDatMagic.size()) == kTraceDatMagic;
}

std::unique_ptr<TraceInput> TraceInput::open(int fd, const std::string& name, std::string* error) {
  std::unique_ptr<TraceInput> in(new TraceInput);
  std::string why;
  in->bytes_ = std::make_unique<Decompressor>(fd, &why);
  if (why.empty()) in->start(&why);
  if (!why.empty()) {
    *error = "reading " + name + ": " + why;
    return nullptr;
  }
  return in;
}

TraceInput::~TraceInput() = default;

// Reads the first bytes of the (inflated) trace: a trace.dat goes to libtracecmd.
void TraceInput::start(std::string* error) {
  head_.resize(kHeadBytes);
  size_t got = 0;
  while (got < kTraceDatMagic.size()) {
    const long n = bytes_->read(head_.data() + got, head_.size() - got);
    if (n < 0) {
      *error = bytes_->error();
      return;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  head_.resize(got);
  if (is_trace_dat(head_)) open_trace_dat(error);
}

// libtracecmd reads a seekable file: an uncompressed regular file as it is,
// anything else (compressed, a pipe) inflated into a memory file first.
void TraceInput::open_trace_dat(std::string* error) {
  struct stat st {};
  int fd = -1;
  if (bytes_->compression() == Compression::kNone && fstat(bytes_->fd(), &st) == 0 &&
      S_ISREG(st.st_mode) && lseek(bytes_->fd(), 0, SEEK_SET) == 0) {
    fd = dup(bytes_->fd());
  } else {
    fd = copy_to_memory(error);
  }
  if (fd < 0) {
    if (error->empty()) *error = std::strerror(errno);
    return;
  }
  dat_ = TraceDatLines::open(fd, error);
  head_.clear();
}

// The whole inflated trace in a memfd, positioned at its start; -1 on a failure.
int TraceInput::copy_to_memory(std::string* error) {
  const int fd = memfd_create("memd-trace.dat", MFD_CLOEXEC);
  if (fd < 0) return -1;
  std::string buf(1 << 20, '\0');
  bool ok = write_all(fd, head_.data(), head_.size());
  for (long n = 0; ok && (n = bytes_->read(buf.data(), buf.size())) != 0;) {
    if (n < 0) {
      *error = bytes_->error();
      ok = false;
    } else {
      ok = write_all(fd, buf.data(), static_cast<size_t>(n));
    }
  }
  if (!ok || lseek(fd, 0, SEEK_SET) != 0) {
    if (error->empty()) *error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

long TraceInput::read(char* out, size_t max) {
  if (dat_) return dat_->read(out, max);
  if (head_pos_ < head_.size()) {
    const size_t n = std::min(max, head_.size() - head_pos_);
    std::memcpy(out, head_.data() + head_pos_, n);
    head_pos_ += n;
    return static_cast<long>(n);
  }
  const long n = bytes_->read(out, max);
  if (n < 0) error_ = bytes_->error();
  return n;
}

std::string TraceInput::form() const {
  std::string f = dat_ ? "trace.dat" : "text";
  if (bytes_->compression() != Compression::kNone) {
    f += " (" + std::string(compression_name(bytes_->compression())) + ")";
  }
  return f;
}

uint64_t TraceInput::file_offset() const {
  return bytes_->consumed();
}

}  // namespace memd::traceio
