// Snapshots: the machine's state out (`snapshot save`, taken under the lock)
// and in (`snapshot load bytes=N`: admitted one at a time and only as large
// as a state of this machine can be, then restored outside the lock and
// swapped in whole, like `reset`).
#include <fmt/format.h>

#include "daemon/command_log.h"
#include "daemon/service.h"

namespace memd {

using protocol::bad_input;

Reply Service::snapshot(const SnapshotCommand& c, Client* client) {
  if (client->origin != Client::Origin::kSocket) {
    return bad_input(
        "snapshot: the control file carries text only; save and load state through the "
        "socket (memctl snapshot save FILE, memctl snapshot load FILE)");
  }
  if (c.op == SnapshotCommand::Op::kLoad) {
    return bad_input("snapshot load: the socket server reads the bytes that follow");
  }
  auto state = std::make_shared<std::string>();
  uint64_t live = 0;
  {
    Lock lock(this);
    *state = machine_->save_state();
    live = machine_->nr_allocations();
  }
  return protocol::snapshot_saved_reply(std::move(state), live);
}

Reply Service::begin_snapshot_load(Client* client, uint64_t bytes) {
  if (client->origin != Client::Origin::kSocket) {
    return bad_input("snapshot load: the control file carries text only; use the socket");
  }
  if (bytes > max_state_bytes_) {
    return bad_input(
        fmt::format("snapshot load: bytes={} is more than a state of this machine can take ({})",
                    bytes, max_state_bytes_));
  }
  if (stopping_) return Reply::error(Failure::kBusy, "snapshot load: memd is stopping");
  bool expected = false;
  if (!loading_.compare_exchange_strong(expected, true)) {
    return Reply::error(Failure::kBusy, "snapshot load: another load is in progress");
  }
  client->loading_snapshot = true;
  return protocol::snapshot_admitted_reply();
}

Reply Service::snapshot_load(Client* client, std::string_view bytes) {
  Reply reply = load_snapshot_bytes(client, bytes);
  log_command(SnapshotCommand{SnapshotCommand::Op::kLoad, bytes.size()}, client, reply);
  return reply;
}

Reply Service::load_snapshot_bytes(Client* client, std::string_view bytes) {
  if (!client->loading_snapshot) {
    return bad_input("snapshot load: this connection was not admitted to load");
  }
  struct Release {
    Service* s;
    Client* c;
    ~Release() {
      c->loading_snapshot = false;
      s->loading_ = false;
    }
  } release{this, client};
  auto restored = Machine::restore_state(config_, bytes);
  if (!restored) return bad_input("snapshot load: " + restored.error().message);
  replace_machine(std::move(*restored)).reset();
  const uint64_t live = live_allocations();
  return protocol::snapshot_loaded_reply(shape(), live);
}

}  // namespace memd
