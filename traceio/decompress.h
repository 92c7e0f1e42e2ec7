// A file's bytes, inflated as they are read: plain, gzip (every member of a
// concatenated file), zstd (every frame) or xz (every stream), chosen from
// the file's first bytes. Internal to traceio/.
#pragma once

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "traceio/trace_input.h"

namespace memd::traceio {

class Decompressor {
 public:
  // Takes `fd`; reads its first bytes to choose the decoder. "" in *error when it worked.
  Decompressor(int fd, std::string* error);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Up to `max` plain bytes; 0 at the end, -1 on an error (error()).
  long read(char* out, size_t max);
  const std::string& error() const { return error_; }
  Compression compression() const { return compression_; }
  uint64_t consumed() const { return consumed_; }
  int fd() const { return fd_; }

 private:
  bool refill();  // more raw bytes into in_; false at the end of the file or on an error
  bool input_left() const { return in_pos_ < in_len_; }
  long read_plain(char* out, size_t max);
  long read_gzip(char* out, size_t max);
  long read_zstd(char* out, size_t max);
  long read_xz(char* out, size_t max);
  long truncated();

  int fd_;
  Compression compression_ = Compression::kNone;
  std::vector<char> in_;
  size_t in_pos_ = 0;
  size_t in_len_ = 0;
  bool eof_ = false;
  bool between_streams_ = true;  // no compressed stream is half read
  uint64_t consumed_ = 0;
  z_stream z_{};
  bool z_init_ = false;
  ZSTD_DStream* zstd_ = nullptr;
  lzma_stream xz_ = LZMA_STREAM_INIT;
  bool xz_init_ = false;
  std::string error_;
};

}  // namespace memd::traceio
