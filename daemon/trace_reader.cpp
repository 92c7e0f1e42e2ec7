#include "daemon/trace_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace memd {

Result<std::unique_ptr<TraceReader>> TraceReader::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer. Only regular files:
  // a FIFO or a device could block the reading thread, and memd with it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return make_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(fmt::format("cannot open {}: not a regular file", path));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  gzFile file = gzdopen(fd, "rb");
  if (!file) {
    ::close(fd);
    return make_error(fmt::format("cannot open {}: out of memory", path));
  }
  gzbuffer(file, 256 * 1024);
  try {
    return std::unique_ptr<TraceReader>(new TraceReader(path, file));
  } catch (const std::exception& e) {  // the thread could not start
    gzclose(file);
    return make_error(fmt::format("cannot read {}: {}", path, e.what()));
  }
}

TraceReader::TraceReader(std::string path, void* file)
    : path_(std::move(path)), file_(file), thread_([this] { run(); }) {}

TraceReader::~TraceReader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  gzclose(static_cast<gzFile>(file_));
}

void TraceReader::run() {
  try {
    read_all();
  } catch (const std::exception& e) {  // out of memory: the consumer hears of it
    std::lock_guard lock(mu_);
    error_ = fmt::format("reading {}: {}", path_, e.what());
    done_ = true;
    cv_.notify_all();
  }
}

void TraceReader::read_all() {
  auto* file = static_cast<gzFile>(file_);
  for (;;) {
    std::string chunk(kChunkBytes, '\0');
    const int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    std::string error;
    int errnum = Z_OK;
    if (n <= 0) {
      error = gzerror(file, &errnum);
      if (errnum == Z_ERRNO) error = std::strerror(errno);
      // At the end of the file in the middle of a gzip stream: cut short.
      if (n == 0 && errnum == Z_BUF_ERROR) error = "the file ends in the middle of its gzip stream";
    }
    std::unique_lock lock(mu_);
    if (n <= 0) {
      if (n < 0 || errnum == Z_BUF_ERROR) error_ = fmt::format("reading {}: {}", path_, error);
      done_ = true;
      cv_.notify_all();
      return;
    }
    chunk.resize(static_cast<size_t>(n));
    cv_.wait(lock, [this] { return stop_ || ready_.size() < kChunksAhead; });
    if (stop_) return;
    ready_.push_back(std::move(chunk));
    cv_.notify_all();
  }
}

Result<std::string> TraceReader::next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !ready_.empty() || done_; });
  if (!ready_.empty()) {
    std::string chunk = std::move(ready_.front());
    ready_.pop_front();
    cv_.notify_all();
    return chunk;
  }
  if (!error_.empty()) return make_error(error_);
  return std::string();
}

}  // namespace memd
