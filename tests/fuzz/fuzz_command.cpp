// libFuzzer target: the command language (daemon/command.cpp, the one parser
// behind the control file and the socket), then the Service running what
// parsed on a small machine (each input on a copy of one booted Service), as
// three clients would: two socket connections and an open control file,
// taking turns line by line. The bytes after a `replay data bytes=N` line are
// its frame, as on the socket; a frame cut short by the end of the input is a
// client gone mid-frame.
//
// Checked after every line: the reply is one line of valid JSON with "ok"
// first and true exactly when the command succeeded; a command refused as bad
// input, busy or denied left the machine exactly as it was (its saved state,
// byte for byte); `check` passes; nothing throws (kInternal).
//
// The bytes after `snapshot load bytes=N` are the state it loads, as on the
// socket (mostly refused: fuzz_state explores the decoder behind a valid header).
//
// Commands that name a path (replay file=, and any verb added later that the
// list below does not know) are parsed but not run: a fuzzer must not make
// memd read or write files.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/render.h"
#include "daemon/command.h"
#include "daemon/service.h"
#include "tests/fuzz/safe_commands.h"

namespace {

using memd::Client;
using memd::Failure;
using memd::Reply;

// What must not change when a command is refused: the whole machine, as
// memd would save it (free lists in order, per-cpu lists, allocations,
// pageblock types, tunables, counters).
std::string fingerprint(memd::Service& s) {
  return s.save_state();
}

void check_reply(const Reply& r) {
  if (r.failure == Failure::kInternal) std::abort();  // an exception escaped a command
  const std::string line = r.json_line();
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) std::abort();
  auto j = nlohmann::ordered_json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.empty() || j.begin().key() != "ok") std::abort();
  if (j["ok"] != r.ok()) std::abort();
  if (!r.ok() && !j["error"].is_string()) std::abort();
  if (!r.ok() && j["failure"] != std::string(memd::protocol::failure_name(r.failure))) std::abort();
}

std::unique_ptr<memd::Service> boot_service() {
  memd::MachineConfig config;
  config.size = 64ULL << 20;
  config.cpus = 2;
  auto booted = memd::Service::boot(config);
  if (!booted) std::abort();
  return std::move(*booted);
}

// Every file a client can read, and the state.
std::vector<std::string> everything(memd::Service& s) {
  std::vector<std::string> out{s.save_state()};
  for (memd::ProcFile f : memd::kProcFiles) {
    out.push_back(s.render(f));
  }
  return out;
}

// The Service every input starts from: booted once (booting took longer
// than most inputs), each input running on an exact copy (Service::clone).
// A copy must be the booted Service, or a crash would not reproduce alone:
// checked once against an independent boot, and every input's copy by its
// state (the fingerprint taken before its first command anyway).
memd::Service& booted_service() {
  static const std::unique_ptr<memd::Service> booted = [] {
    std::unique_ptr<memd::Service> s = boot_service();
    auto copy = s->clone();
    if (!copy || everything(**copy) != everything(*boot_service())) {
      std::fprintf(stderr, "fuzz_command: a copy of the booted Service differs from a boot\n");
      std::abort();
    }
    return s;
  }();
  return *booted;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  static const std::string booted_state = booted_service().save_state();
  auto copy = booted_service().clone();
  if (!copy) std::abort();
  memd::Service& service = **copy;
  if (fingerprint(service) != booted_state) std::abort();
  Client clients[3] = {{Client::Origin::kSocket, 0, 0},
                       {Client::Origin::kSocket, 1000, 0},
                       {Client::Origin::kControlFile, 0, 0}};
  Client observer{Client::Origin::kSocket, 0, 0};

  for (size_t turn = 0; !input.empty(); ++turn) {
    const size_t nl = input.find('\n');
    const std::string_view line = input.substr(0, nl == std::string_view::npos ? nl : nl + 1);
    input.remove_prefix(line.size());
    auto command = memd::parse_command(line);
    if (!command) {
      if (command.error().message.empty()) std::abort();
      continue;
    }
    if (!memd::fuzz::safe_to_run(*command, /*with_snapshot=*/true)) continue;
    Client* client = &clients[turn % 3];
    if (auto* r = std::get_if<memd::ReplayCommand>(&*command);
        r && r->op == memd::ReplayCommand::Op::kData) {
      if (client->origin != Client::Origin::kSocket) continue;  // the control file has no frames
      if (r->bytes > input.size()) {                            // the client went away mid-frame
        service.disconnect(client);
        break;
      }
      const std::string before = client->replay_session ? "" : fingerprint(service);
      Reply reply = service.replay_data(client, input.substr(0, r->bytes));
      input.remove_prefix(r->bytes);
      check_reply(reply);
      if (before.size() && fingerprint(service) != before) std::abort();
    } else if (auto* snap = std::get_if<memd::SnapshotCommand>(&*command);
               snap && snap->op == memd::SnapshotCommand::Op::kLoad) {
      if (client->origin != Client::Origin::kSocket) continue;
      Reply admitted = service.begin_snapshot_load(client, snap->bytes);
      check_reply(admitted);
      if (!admitted.ok()) break;         // the socket server hangs up: the bytes are not read
      if (snap->bytes > input.size()) {  // the client went away mid-state
        service.disconnect(client);
        break;
      }
      const std::string before = fingerprint(service);
      Reply reply = service.snapshot_load(client, input.substr(0, snap->bytes));
      input.remove_prefix(snap->bytes);
      check_reply(reply);
      if (!reply.ok() && fingerprint(service) != before) std::abort();
    } else {
      const std::string before = fingerprint(service);
      Reply reply = service.run(*command, client);
      check_reply(reply);
      const bool must_not_change =
          reply.failure == Failure::kBadInput || reply.failure == Failure::kBusy ||
          reply.failure == Failure::kDenied || reply.failure == Failure::kNotATrace;
      if (must_not_change && fingerprint(service) != before) std::abort();
    }
    if (!service.execute("check", &observer).ok()) std::abort();
  }
  for (Client& c : clients) {
    service.disconnect(&c);
  }
  if (!service.execute("check", &observer).ok()) std::abort();
  return 0;
}
