#include "traceio/trace_dat.h"

#include <event-parse.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

// libtracecmd's functions used here, as trace-cmd.h (3.1) declares them:
// that header includes tracefs.h, which C++ does not compile (an int passed
// as an enum), so they are declared here instead.
extern "C" {
struct tracecmd_input* tracecmd_open_fd(int fd, int flags);
void tracecmd_close(struct tracecmd_input* handle);
struct tep_record* tracecmd_read_data(struct tracecmd_input* handle, int cpu);
void tracecmd_free_record(struct tep_record* record);
struct tep_handle* tracecmd_get_tep(struct tracecmd_input* handle);
int tracecmd_buffer_instances(struct tracecmd_input* handle);
struct tracecmd_input* tracecmd_buffer_instance_handle(struct tracecmd_input* handle, int indx);
void tracecmd_set_loglevel(enum tep_loglevel level);
}

namespace memd::traceio {
namespace {
constexpr int kLoadNoPlugins = 1;  // TRACECMD_FL_LOAD_NO_PLUGINS
}  // namespace

std::unique_ptr<TraceDatLines> TraceDatLines::open(int fd, std::string* error) {
  tracecmd_set_loglevel(TEP_LOG_NONE);  // its warnings would land on memd's stderr
  tracecmd_input* top = tracecmd_open_fd(fd, kLoadNoPlugins);
  if (!top) {
    ::close(fd);
    *error = "libtracecmd cannot read it as a trace.dat (damaged or cut short?)";
    return nullptr;
  }
  return std::unique_ptr<TraceDatLines>(new TraceDatLines(top));
}

TraceDatLines::TraceDatLines(tracecmd_input* top) : top_(top), seq_(new trace_seq) {
  trace_seq_init(seq_.get());
  add_cursors(top_);
  const int buffers = tracecmd_buffer_instances(top_);
  for (int i = 0; i < buffers; ++i) {
    if (tracecmd_input* h = tracecmd_buffer_instance_handle(top_, i)) add_cursors(h);
  }
}

TraceDatLines::~TraceDatLines() {
  for (const Cursor& c : cursors_) {
    if (c.next) tracecmd_free_record(c.next);
    if (c.handle != top_ && c.cpu == 0) tracecmd_close(c.handle);
  }
  trace_seq_destroy(seq_.get());
  tracecmd_close(top_);
}

// A cursor per CPU of the buffer; the first of a buffer (cpu 0) owns its handle.
void TraceDatLines::add_cursors(tracecmd_input* handle) {
  const int cpus = tep_get_cpus(tracecmd_get_tep(handle));
  if (cpus <= 0 && handle != top_) {
    tracecmd_close(handle);
    return;
  }
  for (int cpu = 0; cpu < cpus; ++cpu) {
    cursors_.push_back({handle, cpu, tracecmd_read_data(handle, cpu)});
  }
}

// Fills `out` as far as the lines go: a caller's buffer is often large (1 MiB).
long TraceDatLines::read(char* out, size_t max) {
  size_t filled = 0;
  while (filled < max) {
    if (text_pos_ == text_.size()) {
      text_.clear();
      text_pos_ = 0;
      if (!format_next()) break;
    }
    const size_t n = std::min(max - filled, text_.size() - text_pos_);
    std::memcpy(out + filled, text_.data() + text_pos_, n);
    text_pos_ += n;
    filled += n;
  }
  return static_cast<long>(filled);
}

bool TraceDatLines::format_next() {
  Cursor* first = nullptr;
  for (Cursor& c : cursors_) {
    if (c.next && (!first || c.next->ts < first->next->ts)) first = &c;
  }
  if (!first) return false;
  format(first->handle, first->next);
  tracecmd_free_record(first->next);
  first->next = tracecmd_read_data(first->handle, first->cpu);
  return true;
}

// "CPU:N [LOST M EVENTS]" when the buffer dropped events before this one,
// then "<comm>-<pid> [CPU] <sec>.<usec>: <event>: <fields>".
void TraceDatLines::format(tracecmd_input* handle, tep_record* record) {
  tep_handle* tep = tracecmd_get_tep(handle);
  char head[96];
  if (record->missed_events > 0) {
    std::snprintf(head, sizeof head, "CPU:%d [LOST %lld EVENTS]\n", record->cpu,
                  record->missed_events);
    text_ += head;
  }
  tep_event* event = tep_find_event_by_record(tep, record);
  const int pid = tep_data_pid(tep, record);
  const char* comm = tep_data_comm_from_pid(tep, pid);
  const unsigned long long us = (record->ts + 500) / 1000;  // rounded, as ftrace's ns2usecs()
  std::snprintf(head, sizeof head, "-%-7d [%03d] %5llu.%06llu: ", pid, record->cpu, us / 1000000,
                us % 1000000);
  text_ += std::string(16 > std::strlen(comm) ? 16 - std::strlen(comm) : 0, ' ');
  text_ += comm;
  text_ += head;
  trace_seq_reset(seq_.get());
  if (event) {
    tep_print_event(tep, seq_.get(), record, "%s: %s", TEP_PRINT_NAME, TEP_PRINT_INFO);
  } else {
    trace_seq_printf(seq_.get(), "unknown_event_%d:", tep_data_type(tep, record));
  }
  trace_seq_terminate(seq_.get());
  text_.append(seq_->buffer, seq_->len);
  text_ += '\n';
}

}  // namespace memd::traceio
