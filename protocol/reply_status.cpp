// The longer replies: `status`, a replay's report, snapshots.
#include <fmt/format.h>

#include "protocol/reply.h"

namespace memd::protocol {
namespace {

Json zone_json(const ZoneStatus& z) {
  return Json{{field::kNode, z.node},          {field::kZone, z.zone},
              {field::kStartPfn, z.start_pfn}, {field::kSpanned, z.spanned},
              {field::kPresent, z.present},    {field::kManaged, z.managed},
              {field::kFree, z.free}};
}

std::string status_text(const MachineStatus& s) {
  std::string zones;
  for (const ZoneStatus& z : s.zones) {
    zones +=
        fmt::format("  node {} {:<8} start_pfn {:#x} spanned {} present {} managed {} free {}\n",
                    z.node, z.zone, z.start_pfn, z.spanned, z.present, z.managed, z.free);
  }
  std::string replay = s.replaying ? "yes" : "no";
  if (s.replay_holder) {
    replay += fmt::format(", by uid {} pid {} ({})", s.replay_holder->uid, s.replay_holder->pid,
                          s.replay_holder->comm);
  }
  return fmt::format(
      "machine: {}\ncmdline: {}\nzones:\n{}live allocations: {}\n"
      "pgalloc {} pgfree {} free pages {} extfrag claims {} steals {}\nreplay running: {}\n",
      s.shape, s.cmdline, zones, s.live_allocations, s.pgalloc, s.pgfree, s.free_pages,
      s.extfrag_claims, s.extfrag_steals, replay);
}

}  // namespace

Reply status_reply(const MachineStatus& s) {
  Json zones = Json::array();
  for (const ZoneStatus& z : s.zones) {
    zones.push_back(zone_json(z));
  }
  Json body{{field::kMachine, Json{{field::kShape, s.shape},
                                   {"arch", s.arch},
                                   {"nodes", s.nodes},
                                   {"cpus", s.cpus},
                                   {field::kCmdline, s.cmdline},
                                   {field::kZones, std::move(zones)}}},
            {field::kLiveAllocations, s.live_allocations},
            {field::kCounters, Json{{"pgalloc", s.pgalloc},
                                    {"pgfree", s.pgfree},
                                    {"free_pages", s.free_pages},
                                    {"extfrag_claims", s.extfrag_claims},
                                    {"extfrag_steals", s.extfrag_steals}}},
            {field::kReplaying, s.replaying},
            {field::kPid, s.pid}};
  if (s.replay_holder) {
    body["replay_holder"] = Json{{"uid", s.replay_holder->uid},
                                 {"pid", s.replay_holder->pid},
                                 {"comm", s.replay_holder->comm}};
  }
  return Reply::success(std::move(body), status_text(s));
}

// --- replay ----------------------------------------------------------------------------------

Reply report_reply(const ReplaySummary& report) {
  Json counters = Json::object();
  std::string text;
  for (const auto& [name, n] : report.counters) {
    counters[name] = n;
    text += fmt::format("{}: {}\n", name, n);
  }
  Json malformed = Json::array();
  for (const auto& [line, reason] : report.malformed) {
    malformed.push_back(Json{{field::kLine, line}, {field::kReason, reason}});
    text += fmt::format("malformed line {}: {}\n", line, reason);
  }
  counters[field::kMalformed] = std::move(malformed);
  return Reply::success(Json{{field::kReport, std::move(counters)}}, std::move(text));
}

Reply replay_aborted_reply(const ReplaySummary& report, uint64_t lines) {
  // What was applied stays applied; a trailing partial line is dropped.
  Reply reply = report_reply(report);
  reply.json[field::kLines] = lines;
  reply.json[field::kAborted] = true;
  reply.text = fmt::format("replay aborted after {} lines\n", lines) + reply.text;
  return reply;
}

Reply replay_started_reply() {
  return Reply::success(Json::object(), "replay started\n");
}

Reply replay_frame_reply(uint64_t lines) {
  return Reply::success(Json{{field::kLines, lines}}, "");
}

// --- snapshots -------------------------------------------------------------------------------

Reply snapshot_saved_reply(std::shared_ptr<const std::string> state, uint64_t allocations) {
  Reply r = Reply::success(
      Json{{field::kBytes, state->size()}, {field::kAllocations, allocations}},
      fmt::format("{} bytes of state, {} allocations\n", state->size(), allocations));
  r.payload = std::move(state);
  return r;
}

Reply snapshot_admitted_reply() {
  return Reply::success(Json::object(), "");
}

Reply snapshot_loaded_reply(const std::string& shape, uint64_t allocations) {
  return Reply::success(Json{{field::kMachine, shape}, {field::kAllocations, allocations}},
                        fmt::format("state loaded: {}, {} allocations\n", shape, allocations));
}

}  // namespace memd::protocol
