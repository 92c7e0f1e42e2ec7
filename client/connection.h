// A connection to memd's Unix socket: send command lines (and the raw bytes
// of replay frames), read one-line replies. Interrupted system calls are
// retried, so a signal never leaves a request half sent; the caller checks
// its own flags between requests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "protocol/result.h"

namespace memd::client {

using protocol::Error;
using protocol::make_error;
using protocol::Result;
using protocol::Status;

class Connection {
 public:
  Connection() = default;
  ~Connection();
  Connection(Connection&& o) noexcept;
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to the socket at `path`; the error names the path and why.
  static Result<Connection> open(const std::string& path);

  // Writes all of `data`.
  Status send(std::string_view data);
  // Reads one reply line (without its newline).
  Result<std::string> read_line();
  // send(line + "\n"), then read_line().
  Result<std::string> request(std::string_view line);
  // Reads exactly `n` raw bytes (those after a reply line: `snapshot save`),
  // handing them to `sink` piece by piece; stops at the sink's first error.
  Status read_bytes(uint64_t n, const std::function<Status(std::string_view)>& sink);

 private:
  explicit Connection(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string buf_;  // bytes read past the last line returned
};

}  // namespace memd::client
