// memctl's requests and replies: send a command line, read its reply as a
// JSON object, and fail with ONE line on stderr and an exit status.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "client/connection.h"
#include "client/output.h"

namespace memd::client {

// Prints "memctl: MESSAGE" (on one line) to `err`; returns `status`.
int fail(std::ostream& err, int status, const std::string& message);

// One request and its parsed reply; on failure the exit status to return
// (the message already printed).
struct Exchange {  // NOLINT(bugprone-exception-escape): json's moves do not throw
  int status = 0;
  std::string line;  // the reply as memd sent it
  Json reply;
  bool ok() const { return status == 0; }
};

// A reply line as read (or why it could not be), parsed; a line that is not
// a JSON object is memd gone wrong (kExitUnreachable).
Exchange decode(Result<std::string> line, std::ostream& err);
// Reads one reply line and parses it; a line that is not a JSON object is
// memd gone wrong (kExitUnreachable).
Exchange receive(Connection* conn, std::ostream& err);
// Sends `command` and receives its reply.
Exchange ask(Connection* conn, std::string_view command, std::ostream& err);

// Whether a reply says "ok": true.
bool reply_ok(const Json& reply);
// The exit status of a refused command, from the reply's "failure": a
// command memd found wrong ("bad_input": a value out of range or malformed)
// is a usage error, as when memctl notices it (kExitUsage); any other refusal,
// for the machine's state (an allocation failed, busy, check's problems) or
// from a memd that names no failure, is kExitRefused.
int refusal_status(const Json& reply);
// An unsigned number of the reply; 0 when absent.
uint64_t reply_number(const Json& reply, const char* key);

}  // namespace memd::client
