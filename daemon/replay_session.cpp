// Replay sessions: one trace replay at a time, from a file memd reads
// (replay file=) or streamed over the socket in frames (replay begin, data,
// end, abort). A session is applied in batches of kReplayBatchBytes, the lock
// released between them; `reset`, `snapshot load` and a stopping memd end it.
// The last session's Replayer is kept after it ends, for `replay begin
// continue`, until the machine is replaced. A streamed session may record
// its history (`every=N`): each reply carries the rows recorded since the
// one before.
#include <fmt/format.h>

#include "core/replay_history.h"
#include "daemon/service.h"
#include "daemon/trace_reader.h"
#include "protocol/text.h"

namespace memd {

using protocol::bad_input;

namespace {

protocol::ReplaySummary summary(const ReplayReport& report) {
  protocol::ReplaySummary s;
  s.counters = report.counters();
  s.malformed.assign(report.malformed_samples.begin(), report.malformed_samples.end());
  return s;
}

}  // namespace

uint64_t Service::begin_replay_locked(bool continue_previous, const Client& holder) {
  if (replay_session_ != 0) return 0;
  replay_holder_ = {holder.uid, holder.pid, holder.comm};
  report_before_part_.reset();
  if (!continue_previous || !replayer_) {
    previous_replayer_ = std::move(replayer_);
    replayer_ = std::make_unique<Replayer>(machine_.get());
  } else {
    previous_replayer_.reset();
    report_before_part_ = replayer_->report();
    replayer_origin_ = replayer_->clone();
  }
  replay_session_ = next_session_++;
  replay_lines_ = 0;
  replay_origin_ = machine_->clone();
  return replay_session_;
}

std::string Service::end_replay_locked() {
  replay_session_ = 0;
  replay_origin_.reset();
  replayer_origin_.reset();
  if (!replayer_) return {};
  replayer_->drop_partial();
  replayer_->end_history();
  return replayer_->take_history();
}

void Service::drop_replay_locked() {
  (void)end_replay_locked();
  replayer_.reset();
  previous_replayer_.reset();
  report_before_part_.reset();
}

void Service::changed_by_locked(const Client& client) {
  if (replay_session_ != 0 && client.replay_session != replay_session_) replay_origin_.reset();
}

std::string_view Service::rollback_text(bool rolled_back) {
  return rolled_back ? "; the replay was rolled back: the machine is as it was before the replay "
                       "began"
                     : "; the replay ended, keeping what it applied: other clients changed the "
                       "machine while it ran, and rolling back would undo their changes too";
}

bool Service::roll_back_replay_locked() {
  std::unique_ptr<Machine> origin = std::move(replay_origin_);
  std::unique_ptr<Replayer> part_origin = std::move(replayer_origin_);
  const bool continued = report_before_part_.has_value();
  (void)end_replay_locked();
  if (!origin) return false;  // the Replayers stay, as after `replay abort`
  replayer_ = continued ? std::move(part_origin) : std::move(previous_replayer_);
  previous_replayer_.reset();
  report_before_part_.reset();
  TraceBuffer events = machine_->trace_buffer();  // tracing saw them happen: they stay
  machine_->copy_from(*origin);
  machine_->trace_buffer() = std::move(events);
  machine_->set_trace_events(trace_mask_);
  changed_locked();
  return true;
}

std::optional<std::string> Service::feed_in_batches(uint64_t session, std::string_view text) {
  for (;;) {  // at least once: an empty frame of an ended replay is refused too
    const size_t n = std::min(text.size(), kReplayBatchBytes);
    {
      Lock lock(this);
      if (stopping_ && replay_session_ == session) {
        return fmt::format("memd is stopping{}", rollback_text(roll_back_replay_locked()));
      }
      if (replay_session_ != session) return "the replay ended when the machine was reset";
      if (n == 0) return std::nullopt;
      replay_lines_ += replayer_->feed(text.substr(0, n));
      changed_locked();
      if (replayer_->history_overflowed()) {
        return fmt::format(
            "the history's rows not yet sent passed {} MiB (every= is too small for frames "
            "this large){}",
            Replayer::kMaxPendingHistoryBytes >> 20, rollback_text(roll_back_replay_locked()));
      }
    }
    wake_trace_readers();
    text.remove_prefix(n);
    if (text.empty()) return std::nullopt;
    let_others_in();
  }
}

std::string Service::finish_replay_locked() {
  replayer_->finish();
  changed_locked();
  return end_replay_locked();
}

std::optional<Reply> Service::refuse_eventless_locked() {
  const ReplayReport& r = replayer_->report();
  const ReplayReport before = report_before_part_.value_or(ReplayReport{});
  if (r.events() != before.events()) {
    previous_replayer_.reset();
    report_before_part_.reset();
    return std::nullopt;
  }
  std::string why = fmt::format(
      "replay: {} lines, no mm_page_alloc or mm_page_free events: not a kernel trace? "
      "Nothing was applied",
      protocol::thousands(r.lines - before.lines));
  if (r.malformed_samples.size() > before.malformed_samples.size()) {
    const auto& [line, reason] = r.malformed_samples[before.malformed_samples.size()];
    why += fmt::format(" (line {}: {})", line, reason);
  }
  if (report_before_part_) {
    replayer_->restore_report(*report_before_part_);
  } else {
    replayer_ = std::move(previous_replayer_);
  }
  report_before_part_.reset();
  return Reply::error(Failure::kNotATrace, why);
}

Reply Service::replay(const ReplayCommand& c, Client* client) {
  using Op = ReplayCommand::Op;
  if (c.op == Op::kFile) return replay_file(c.path, client);
  if (client->origin != Client::Origin::kSocket) {
    return bad_input(
        "replay: streaming (begin, data, end, abort) is for the socket; "
        "here use replay file=PATH");
  }
  if (c.op == Op::kData) {
    return bad_input("replay data: the socket server reads the bytes that follow");
  }
  Lock lock(this);
  if (c.op == Op::kBegin) return replay_begin_locked(c, client);
  const bool mine = client->replay_session != 0 && client->replay_session == replay_session_;
  if (!mine) {
    const bool reset = client->replay_session != 0;
    client->replay_session = 0;
    return bad_input(reset ? "replay: the replay ended when the machine was reset"
                           : "replay: no replay running on this connection (replay begin first)");
  }
  client->replay_session = 0;
  return replay_end_locked(c.op);
}

Reply Service::replay_end_locked(ReplayCommand::Op op) {
  const bool history = replayer_->history_on();
  Reply reply;
  if (op == ReplayCommand::Op::kAbort) {
    const uint64_t lines = replay_lines_;
    std::string rows = end_replay_locked();
    reply = protocol::replay_aborted_reply(summary(replayer_->report()), lines);
    if (history) protocol::add_history(&reply, std::move(rows));
  } else {
    std::string rows = finish_replay_locked();
    if (auto refused = refuse_eventless_locked()) return *refused;
    reply = protocol::report_reply(summary(replayer_->report()));
    if (history) protocol::add_history(&reply, std::move(rows));
  }
  return reply;
}

// `replay begin [every=N] [continue]`: the reply of a history carries its
// header and the rows at the events so far.
Reply Service::replay_begin_locked(const ReplayCommand& c, Client* client) {
  if (client->replay_session != 0 && client->replay_session == replay_session_) {
    return bad_input("replay begin: this connection's replay is still running");
  }
  if (replay_session_ != 0) {
    return Reply::error(Failure::kBusy, "replay begin: another replay is running");
  }
  if (c.continue_previous && !replayer_) {
    return bad_input("replay: no previous replay to continue");
  }
  client->replay_session = begin_replay_locked(c.continue_previous, *client);
  Reply reply = protocol::replay_started_reply();
  if (c.every != 0) {
    replayer_->start_history(c.every);
    protocol::add_history(&reply, std::string(kHistoryHeader) + replayer_->take_history());
  }
  return reply;
}

bool Service::owns_replay(const Client* client) {
  if (client->replay_session == 0) return false;
  Lock lock(this);
  return client->replay_session == replay_session_;
}

Reply Service::replay_data(Client* client, std::string_view bytes) {
  const uint64_t session = client->replay_session;
  if (session == 0) return bad_input("replay data: no replay running on this connection");
  if (auto ended = feed_in_batches(session, bytes)) {
    client->replay_session = 0;
    return bad_input("replay data: " + *ended);
  }
  Lock lock(this);
  Reply reply = protocol::replay_frame_reply(replay_lines_);
  if (replay_session_ == session && replayer_->history_on()) {
    protocol::add_history(&reply, replayer_->take_history());
  }
  return reply;
}

Reply Service::replay_file(const std::string& path, Client* client) {
  if (client->origin == Client::Origin::kSocket && client->uid != 0) {
    return Reply::error(Failure::kDenied,
                        "replay file=: only root may make the daemon read a file; "
                        "stream the trace instead (replay begin / data / end)");
  }
  // The file is read (and inflated) on a thread of its own, a few MiB ahead.
  auto reader = TraceReader::open(path);
  if (!reader) return Reply::error(Failure::kIo, "replay: " + reader.error().message);
  uint64_t session = 0;
  {
    Lock lock(this);
    session = begin_replay_locked(false, *client);
  }
  if (session == 0) return Reply::error(Failure::kBusy, "replay: another replay is running");
  // The session belongs to no client: whatever way this returns without
  // finishing it (a read error, an exception), a session still open is
  // rolled back, so that the machine is as it was and the next replay is not
  // refused as "another is running".
  struct EndUnfinished {
    Service* s;
    uint64_t session;
    ~EndUnfinished() {
      Lock lock(s);
      if (s->replay_session_ == session) s->roll_back_replay_locked();
    }
  } end_unfinished{this, session};
  return replay_from(**reader, session);
}

Reply Service::replay_from(TraceReader& reader, uint64_t session) {
  for (;;) {
    auto chunk = reader.next();
    if (!chunk) {
      Lock lock(this);
      const bool back = replay_session_ == session && roll_back_replay_locked();
      return Reply::error(Failure::kIo,
                          fmt::format("replay: {}{}", chunk.error().message, rollback_text(back)));
    }
    if (chunk->empty()) break;
    if (auto ended = feed_in_batches(session, *chunk)) return bad_input("replay: " + *ended);
  }
  Lock lock(this);
  if (replay_session_ != session) {
    return bad_input("replay: the replay ended when the machine was reset");
  }
  (void)finish_replay_locked();
  if (auto refused = refuse_eventless_locked()) return *refused;
  return protocol::report_reply(summary(replayer_->report()));
}

}  // namespace memd
