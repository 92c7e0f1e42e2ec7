#include "client/free.h"

#include <string_view>

#include <fmt/format.h>

#include "client/memctl.h"
#include "protocol/reply.h"

namespace memd::client {
namespace {

namespace field = protocol::field;

// " (<what became of part i>; parts 1-i (targets 1-N) were freed: F
// allocations; targets M-T were not sent)": what was done before part `i`
// stopped, and what was never sent after it.
std::string account(const std::vector<FreePart>& parts, size_t i, std::string_view what,
                    size_t freed, size_t targets) {
  std::string s = fmt::format(" ({} part {} of {}, targets {}-{} of {}{}", what, i + 1,
                              parts.size(), parts[i].first + 1, parts[i].first + parts[i].count,
                              targets, what.rfind("memd", 0) == 0 ? " and freed none of them" : "");
  if (i > 0) {
    s += fmt::format("; {} (targets 1-{}) {} freed: {} allocation{}",
                     i == 1 ? std::string("part 1") : fmt::format("parts 1-{}", i), parts[i].first,
                     i == 1 ? "was" : "were", freed, freed == 1 ? "" : "s");
  }
  if (i + 1 < parts.size()) {
    s += fmt::format("; targets {}-{} were not sent", parts[i + 1].first + 1, targets);
  }
  return s + ")";
}

// The reply of the whole: `reply` with the allocations freed so far and their count.
Exchange combined(int status, Json reply, Json freed) {
  Exchange x;
  x.status = status;
  const size_t count = freed.size();
  reply[field::kFreed] = std::move(freed);
  reply[field::kCount] = count;
  x.reply = std::move(reply);
  x.line = x.reply.dump(-1, ' ', false, Json::error_handler_t::replace);
  return x;
}

}  // namespace

Exchange free_in_parts(Connection* conn, const std::vector<FreePart>& parts, size_t targets) {
  Json freed = Json::array();
  for (size_t i = 0; i < parts.size(); ++i) {
    Result<std::string> line = conn->request(parts[i].line);
    Json reply = line ? Json::parse(*line, nullptr, /*allow_exceptions=*/false) : Json();
    if (!line || reply.is_discarded() || !reply.is_object()) {
      const std::string why = line ? "memd's reply is not a JSON object: " + line->substr(0, 200)
                                   : line.error().message;
      const std::string error =
          why + account(parts, i, "it may or may not have freed", freed.size(), targets);
      return combined(kExitUnreachable, Json{{field::kOk, false}, {field::kError, error}},
                      std::move(freed));
    }
    if (!reply_ok(reply)) {
      const int status = refusal_status(reply);
      if (i == 0) return Exchange{status, std::move(*line), std::move(reply)};  // nothing freed
      reply[field::kError] =
          error_message(reply) + account(parts, i, "memd refused", freed.size(), targets);
      return combined(status, std::move(reply), std::move(freed));
    }
    auto it = reply.find(field::kFreed);
    if (it != reply.end() && it->is_array()) {
      for (Json& a : *it) {
        freed.push_back(std::move(a));
      }
    }
  }
  return combined(kExitOk, Json{{field::kOk, true}}, std::move(freed));
}

}  // namespace memd::client
