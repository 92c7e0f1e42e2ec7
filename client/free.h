// memctl free with more targets than one command line takes (free_commands):
// the parts are sent one after another and their replies combined into the
// one a single `free` of all the targets would give.
#pragma once

#include <vector>

#include "client/connection.h"
#include "client/exchange.h"
#include "client/request.h"

namespace memd::client {

// Sends `parts` (of `targets` targets in all) in order and combines their
// replies: {"ok":true,"freed":[every part's, in order],"count":N}. The first
// part memd refuses stops it: the reply is then that refusal ("ok":false,
// its "failure") with "freed" and "count" of the parts before it, which stay
// freed, and an "error" that says which part and targets memd refused and
// which were never sent. A connection lost is kExitUnreachable, with the
// same account (the part in flight may or may not have been applied).
// Prints nothing: the status is 0, refusal_status() or kExitUnreachable.
Exchange free_in_parts(Connection* conn, const std::vector<FreePart>& parts, size_t targets);

}  // namespace memd::client
