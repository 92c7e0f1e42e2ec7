#include "traceio/decompress.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace memd::traceio {

namespace {
constexpr size_t kInBytes = 256 << 10;
}  // namespace

Compression compression_of(std::string_view head) {
  static constexpr std::string_view kGzipMagic("\x1f\x8b", 2);
  static constexpr std::string_view kZstdMagic("\x28\xb5\x2f\xfd", 4);
  static constexpr std::string_view kXzMagic("\xfd\x37\x7a\x58\x5a\x00", 6);  // "\xfd7zXZ\0"
  if (head.substr(0, 2) == kGzipMagic) return Compression::kGzip;
  if (head.substr(0, 4) == kZstdMagic) return Compression::kZstd;
  if (head.substr(0, 6) == kXzMagic) return Compression::kXz;
  return Compression::kNone;
}

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kXz:
      return "xz";
    case Compression::kNone:
      break;
  }
  return "";
}

Decompressor::Decompressor(int fd, std::string* error) : fd_(fd), in_(kInBytes) {
  // The first bytes say the compression: read until 6 are in or the file ends.
  while (in_len_ < 6 && refill()) {
  }
  if (!error_.empty()) {
    *error = error_;
    return;
  }
  compression_ = compression_of({in_.data(), in_len_});
  bool ok = true;
  if (compression_ == Compression::kGzip) {
    ok = z_init_ = inflateInit2(&z_, 15 + 16) == Z_OK;
  } else if (compression_ == Compression::kZstd) {
    zstd_ = ZSTD_createDStream();
    ok = zstd_ != nullptr && !ZSTD_isError(ZSTD_initDStream(zstd_));
  } else if (compression_ == Compression::kXz) {
    ok = xz_init_ = lzma_stream_decoder(&xz_, UINT64_MAX, LZMA_CONCATENATED) == LZMA_OK;
  }
  if (!ok) *error = error_ = "out of memory";
}

Decompressor::~Decompressor() {
  if (z_init_) inflateEnd(&z_);
  if (zstd_) ZSTD_freeDStream(zstd_);
  if (xz_init_) lzma_end(&xz_);
  if (fd_ >= 0) ::close(fd_);
}

// Appends raw bytes after those not yet used (moved to the front).
bool Decompressor::refill() {
  if (eof_) return false;
  if (in_pos_ > 0) {
    std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
    in_len_ -= in_pos_;
    in_pos_ = 0;
  }
  // EINTR is an error, as zlib's gzread makes it: a signal (memctl's SIGINT)
  // must end a read blocked on a pipe.
  const ssize_t n = ::read(fd_, in_.data() + in_len_, in_.size() - in_len_);
  if (n <= 0) {
    if (n < 0) error_ = std::strerror(errno);
    eof_ = true;
    return false;
  }
  in_len_ += static_cast<size_t>(n);
  consumed_ += static_cast<uint64_t>(n);
  return true;
}

long Decompressor::read(char* out, size_t max) {
  if (!error_.empty()) return -1;
  switch (compression_) {
    case Compression::kGzip:
      return read_gzip(out, max);
    case Compression::kZstd:
      return read_zstd(out, max);
    case Compression::kXz:
      return read_xz(out, max);
    case Compression::kNone:
      break;
  }
  return read_plain(out, max);
}

long Decompressor::read_plain(char* out, size_t max) {
  if (!input_left() && !refill()) return error_.empty() ? 0 : -1;
  const size_t n = std::min(max, in_len_ - in_pos_);
  std::memcpy(out, in_.data() + in_pos_, n);
  in_pos_ += n;
  return static_cast<long>(n);
}

long Decompressor::truncated() {
  if (error_.empty()) {
    error_ = "the file ends in the middle of its " + std::string(compression_name(compression_)) +
             " stream";
  }
  return -1;
}

long Decompressor::read_gzip(char* out, size_t max) {
  for (;;) {
    if (!input_left() && !refill()) return !error_.empty() || !between_streams_ ? truncated() : 0;
    z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
    z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(max, 1u << 30));
    const int rc = inflate(&z_, Z_NO_FLUSH);
    in_pos_ = in_len_ - z_.avail_in;
    const long n = static_cast<long>(reinterpret_cast<char*>(z_.next_out) - out);
    between_streams_ = rc == Z_STREAM_END;
    if (rc == Z_STREAM_END) inflateReset(&z_);  // a concatenated member may follow
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      error_ = std::string("gzip: ") + (z_.msg ? z_.msg : "corrupt data");
      return -1;
    }
    if (n > 0) return n;
  }
}

long Decompressor::read_zstd(char* out, size_t max) {
  for (;;) {
    if (!input_left() && !refill()) return !error_.empty() || !between_streams_ ? truncated() : 0;
    ZSTD_inBuffer in{in_.data() + in_pos_, in_len_ - in_pos_, 0};
    ZSTD_outBuffer o{out, max, 0};
    const size_t rc = ZSTD_decompressStream(zstd_, &o, &in);
    in_pos_ += in.pos;
    if (ZSTD_isError(rc)) {
      error_ = std::string("zstd: ") + ZSTD_getErrorName(rc);
      return -1;
    }
    between_streams_ = rc == 0;
    if (o.pos > 0) return static_cast<long>(o.pos);
  }
}

long Decompressor::read_xz(char* out, size_t max) {
  for (;;) {
    if (!input_left()) refill();
    if (!error_.empty()) return -1;
    xz_.next_in = reinterpret_cast<const uint8_t*>(in_.data() + in_pos_);
    xz_.avail_in = in_len_ - in_pos_;
    xz_.next_out = reinterpret_cast<uint8_t*>(out);
    xz_.avail_out = max;
    const lzma_ret rc = lzma_code(&xz_, eof_ && !input_left() ? LZMA_FINISH : LZMA_RUN);
    in_pos_ = in_len_ - xz_.avail_in;
    const long n = static_cast<long>(max - xz_.avail_out);
    if (rc == LZMA_STREAM_END) return n;
    if (rc == LZMA_BUF_ERROR && eof_) return n > 0 ? n : truncated();
    if (rc != LZMA_OK) {
      error_ = "xz: corrupt data (lzma error " + std::to_string(static_cast<int>(rc)) + ")";
      return -1;
    }
    if (n > 0) return n;
  }
}

}  // namespace memd::traceio
