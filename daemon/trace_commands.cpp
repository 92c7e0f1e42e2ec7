// The kmem tracepoints as memd's clients see them: the `trace` command (which
// events are on, the buffer's size), the task and clock the machine's events
// carry, and trace_pipe's reads and wake-ups.
#include <time.h>

#include <fmt/format.h>

#include "daemon/service.h"

namespace memd {

using protocol::bad_input;

namespace {

// The daemon's clock for trace timestamps: CLOCK_MONOTONIC, which counts
// from the host's boot like the kernel's default trace clock (`local`).
uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::string event_names() {
  std::string out;
  for (std::string_view n : kKmemEventNames) {
    out += fmt::format("{}{}", out.empty() ? "" : ", ", n);
  }
  return out;
}

// The events `names` list, as a mask; "all" (or "kmem", the kernel's event
// system) is every one.
Result<uint32_t> event_mask(const std::vector<std::string>& names, std::string_view verb) {
  uint32_t mask = 0;
  for (const std::string& n : names) {
    if (n == "all" || n == "kmem" || n == "kmem:*") {
      mask |= kAllKmemEvents;
      continue;
    }
    auto e = kmem_event_by_name(n);
    if (!e) {
      return make_error(
          fmt::format("trace {}: unknown event '{}' (events: {}, or all)", verb, n, event_names()));
    }
    mask |= kmem_event_bit(*e);
  }
  return mask;
}

protocol::TraceState state_of(const TraceBuffer& tb) {
  protocol::TraceState s;
  for (size_t i = 0; i < kNrKmemEvents; ++i) {
    if (tb.enabled(static_cast<KmemEvent>(i))) s.events.emplace_back(kKmemEventNames[i]);
  }
  s.buffer_size_kb = tb.buffer_size_kb();
  s.entries = tb.entries();
  s.overrun = tb.overrun();
  return s;
}

}  // namespace

void Service::act_for_locked(const Client& client) {
  machine_->set_current_comm(client.comm);
  if (machine_->tracer()) machine_->tracer()->set_task(client.comm, client.pid, monotonic_ns());
}

// `trace on` of events already on, like writing 1 to their enable files
// again, changes nothing and is no error; so is `trace off` of events off.
Reply Service::trace(const TraceCommand& c) {
  using Op = TraceCommand::Op;
  Lock lock(this);
  TraceBuffer& tb = machine_->trace_buffer();
  switch (c.op) {
    case Op::kStatus:
      break;
    case Op::kOn:
    case Op::kOff: {
      auto mask = event_mask(c.events.empty() ? std::vector<std::string>{"all"} : c.events,
                             c.op == Op::kOn ? "on" : "off");
      if (!mask) return bad_input(mask.error().message);
      trace_mask_ = c.op == Op::kOn ? trace_mask_ | *mask : trace_mask_ & ~*mask;
      machine_->set_trace_events(trace_mask_);
      tracing_ = trace_mask_ != 0;
      break;
    }
    case Op::kBufferSize: {
      Status st = tb.set_buffer_size_kb(c.buffer_size_kb);
      if (!st) return bad_input("trace " + st.error().message);
      trace_kb_ = c.buffer_size_kb;
      break;
    }
    case Op::kClear:
      tb.clear();
      break;
  }
  return protocol::trace_reply(state_of(tb));
}

// The lines are printed outside the lock (a reader keeping up with a replay
// formats a million lines a second); what does not fit goes back.
std::string Service::consume_trace(size_t max_bytes) {
  TraceBuffer::Taken taken;
  {
    Lock lock(this);
    taken = machine_->trace_buffer().take(max_bytes);
  }
  std::string rest;
  std::string out = TraceBuffer::format(taken, max_bytes, &rest);
  if (!rest.empty()) {
    Lock lock(this);
    machine_->trace_buffer().put_back(rest);
  }
  return out;
}

bool Service::trace_ready() {
  Lock lock(this);
  return !machine_->trace_buffer().empty();
}

void Service::set_trace_notifier(std::function<void()> notify) {
  MutexLock lock(&notify_mu_);
  trace_notify_ = std::move(notify);
}

void Service::wake_trace_readers() {
  if (!tracing_.load(std::memory_order_relaxed)) return;
  MutexLock lock(&notify_mu_);
  if (trace_notify_) trace_notify_();
}

}  // namespace memd
