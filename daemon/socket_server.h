// The Unix socket of the command language: one JSON reply per command line,
// served by a small fixed pool of Boost.Asio threads. Each connection is a
// Client of the Service; it holds nothing else but its buffers.
//
// A new connection starts on the first lane, one thread of its own: it is
// accepted and checked there, and its first line is run there when it is
// light (status, help, sysctl, a few allocations or frees, a small file), so
// that a new client's first reply does not wait behind the pool's busy
// connections. Then the connection moves to the pool; while the pool is
// behind (twice its threads moved in and have not run a line yet, or more
// than max_held_reply_bytes of replies wait to be dropped) connections wait
// on the first lane, in turn, to move.
//
// Lines a client pipelines are run in batches (up to 64 lines or 64 KiB of
// replies) whose replies go out with one send; a line that announces raw
// bytes starts a batch of its own, after the replies before it are out.
//
// Peers are checked with SO_PEERCRED: root, memd's own user and members of
// the socket group may talk; others get one JSON error and are disconnected.
// A line over kMaxCommandBytes gets an error and the connection is dropped.
//
// What a connection makes memd hold is bounded: one command line (64 KiB),
// one reply (a connection reads its next command only once its reply is
// out), one replay frame (the running replay's only). A reply the socket
// cannot take at once waits for the client to read it; a client that takes
// nothing of it for reply_timeout is dropped, and while more than
// max_held_reply_bytes of replies wait so, the connections that have taken
// nothing for longest are dropped. Clients that read as they go, however
// large their reply, are not affected. A client that sends part of a line
// and then nothing for line_timeout (checked every line_timeout: dropped
// after one to two of them) is dropped too; an idle connection with no
// partial line is kept, unless it holds the running replay: silent for
// replay_idle_timeout, it is dropped and the replay rolled back.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/service.h"

namespace memd {

struct SocketServerOptions {
  int threads = 4;  // the pool's; the first lane is one more
  int max_clients = 8192;
  std::optional<gid_t> group;  // members may talk to memd
  std::string group_name;      // for messages
  // A client that takes nothing of its reply for this long is dropped.
  std::chrono::milliseconds reply_timeout{10'000};
  // A client whose partial line has not grown for this long is dropped.
  std::chrono::milliseconds line_timeout{10'000};
  // A client that holds the running replay and sends nothing for this long
  // (looked at every line_timeout) is dropped, and its replay rolled back.
  std::chrono::milliseconds replay_idle_timeout{60'000};
  // Replies waiting for slow readers, in all: above it, the most stalled are dropped.
  size_t max_held_reply_bytes = 32 << 20;
};

class SocketServer {
 public:
  // Serves the listening socket `listen_fd` (bound and listening, created by
  // memd or passed by systemd); takes ownership of the descriptor.
  SocketServer(Service* service, int listen_fd, SocketServerOptions options);
  ~SocketServer();  // stop()
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  void start();
  // Stops accepting, closes every connection and joins the threads.
  void stop();
  // The connections open now: accepted, and not yet gone (their client
  // disconnected from the Service).
  int connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memd
