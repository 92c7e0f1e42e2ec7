// A kernel trace read as text lines, whatever form it was captured in. The
// form is recognised by content, never by the file's name:
//   - text: the kernel's ftrace `trace` file, `trace-cmd report`, `perf
//     script` of kmem: events (core/trace_line.h parses all three), passed on
//     as they are;
//   - trace-cmd's binary trace.dat, read with libtracecmd and turned into
//     ftrace text lines, one per record, in timestamp order over every CPU
//     and buffer: "<comm>-<pid> [CPU] <sec>.<usec>: <event>: <fields>", the
//     fields as `trace-cmd report` prints them (libtraceevent's reading of
//     the event's print format), and "CPU:N [LOST M EVENTS]" where the
//     buffer dropped events;
// each plain or compressed with gzip, zstd or xz.
//
// The I/O adapter shared by memctl (client/replay.cpp) and memd's `replay
// file=` (daemon/trace_reader.cpp): it includes nothing of memd's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace memd::traceio {

// How a file's bytes are compressed, from its first bytes (magic numbers).
enum class Compression : uint8_t { kNone, kGzip, kZstd, kXz };
Compression compression_of(std::string_view head);
std::string_view compression_name(Compression c);  // "gzip", "zstd", "xz", ""

// trace-cmd's trace.dat starts with "\x17\x08\x44tracing".
bool is_trace_dat(std::string_view head);

class Decompressor;
class TraceDatLines;

class TraceInput {
 public:
  // Takes `fd` (closed by the TraceInput, also on failure) and recognises
  // the form from the first bytes. `name` is for messages. nullptr and
  // *error (naming `name` and the reason) when the file cannot be read or a
  // trace.dat cannot be opened.
  static std::unique_ptr<TraceInput> open(int fd, const std::string& name, std::string* error);
  ~TraceInput();
  TraceInput(const TraceInput&) = delete;
  TraceInput& operator=(const TraceInput&) = delete;

  // Up to `max` bytes of the trace's text; 0 at the end, -1 on an error
  // (error() says what, e.g. "the file ends in the middle of its gzip stream").
  long read(char* out, size_t max);
  const std::string& error() const { return error_; }

  // What was recognised: "text", "trace.dat", with " (gzip)" etc.
  std::string form() const;
  // Bytes of the file taken so far, for a progress bar against its size.
  uint64_t file_offset() const;

 private:
  TraceInput() = default;
  void start(std::string* error);
  void open_trace_dat(std::string* error);
  int copy_to_memory(std::string* error);

  std::unique_ptr<Decompressor> bytes_;
  std::unique_ptr<TraceDatLines> dat_;  // set for a trace.dat
  std::string head_;                    // the first bytes, not yet returned (text)
  size_t head_pos_ = 0;
  std::string error_;
};

}  // namespace memd::traceio
