#include "daemon/trace_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace memd {

Result<std::unique_ptr<TraceReader>> TraceReader::open(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) return make_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  gzbuffer(file, 256 * 1024);
  return std::unique_ptr<TraceReader>(new TraceReader(path, file));
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
