// trace-cmd's binary trace.dat as ftrace text lines (see trace_input.h),
// read with libtracecmd: the records of every CPU of every buffer (the top
// one and each `-B` instance), merged in timestamp order. Internal to traceio/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct tracecmd_input;
struct tep_record;
struct trace_seq;

namespace memd::traceio {

class TraceDatLines {
 public:
  // Takes `fd`, a seekable file holding a whole trace.dat. nullptr and
  // *error when libtracecmd cannot read it.
  static std::unique_ptr<TraceDatLines> open(int fd, std::string* error);
  ~TraceDatLines();
  TraceDatLines(const TraceDatLines&) = delete;
  TraceDatLines& operator=(const TraceDatLines&) = delete;

  // `max` bytes of text (fewer only at the end); 0 at the end.
  long read(char* out, size_t max);

 private:
  // One CPU of one buffer and its next record (nullptr when it has no more).
  struct Cursor {
    tracecmd_input* handle;
    int cpu;
    tep_record* next;
  };
  explicit TraceDatLines(tracecmd_input* top);
  void add_cursors(tracecmd_input* handle);
  bool format_next();  // the next record's line(s) into text_; false at the end
  void format(tracecmd_input* handle, tep_record* record);

  tracecmd_input* top_;
  std::vector<Cursor> cursors_;
  std::unique_ptr<trace_seq> seq_;
  std::string text_;  // lines formatted, not yet read
  size_t text_pos_ = 0;
};

}  // namespace memd::traceio
