#include "daemon/trace_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "traceio/trace_input.h"

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
  // The form (text, trace.dat; gzip, zstd, xz) is recognised from the content.
  std::string why;
  std::unique_ptr<traceio::TraceInput> input = traceio::TraceInput::open(fd, path, &why);
  if (!input) return make_error(why);
  try {
    return std::unique_ptr<TraceReader>(new TraceReader(path, std::move(input)));
  } catch (const std::exception& e) {  // the thread could not start
    return make_error(fmt::format("cannot read {}: {}", path, e.what()));
  }
}

TraceReader::TraceReader(std::string path, std::unique_ptr<traceio::TraceInput> input)
    : path_(std::move(path)), input_(std::move(input)), thread_([this] { run(); }) {}

TraceReader::~TraceReader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
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
  for (;;) {
    std::string chunk(kChunkBytes, '\0');
    const long n = input_->read(chunk.data(), chunk.size());
    std::unique_lock lock(mu_);
    if (n <= 0) {
      if (n < 0) error_ = fmt::format("reading {}: {}", path_, input_->error());
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
