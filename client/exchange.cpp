#include "client/exchange.h"

#include "client/memctl.h"
#include "protocol/reply.h"

namespace memd::client {
namespace {

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') {
    s.pop_back();
  }
  return s;
}

}  // namespace

Exchange decode(Result<std::string> line, std::ostream& err) {
  Exchange x;
  if (!line) {
    x.status = fail(err, kExitUnreachable, line.error().message);
    return x;
  }
  x.line = std::move(*line);
  x.reply = Json::parse(x.line, nullptr, /*allow_exceptions=*/false);
  if (x.reply.is_discarded() || !x.reply.is_object()) {
    x.status =
        fail(err, kExitUnreachable, "memd's reply is not a JSON object: " + x.line.substr(0, 200));
  }
  return x;
}

int fail(std::ostream& err, int status, const std::string& message) {
  err << "memctl: " << one_line(message) << std::endl;
  return status;
}

Exchange receive(Connection* conn, std::ostream& err) {
  return decode(conn->read_line(), err);
}

Exchange ask(Connection* conn, std::string_view command, std::ostream& err) {
  return decode(conn->request(command), err);
}

bool reply_ok(const Json& reply) {
  auto it = reply.find(protocol::field::kOk);
  return it != reply.end() && it->is_boolean() && it->get<bool>();
}

int refusal_status(const Json& reply) {
  auto it = reply.find(protocol::field::kFailure);
  const bool bad_input =
      it != reply.end() && it->is_string() &&
      protocol::failure_named(it->get<std::string>()) == protocol::Failure::kBadInput;
  return bad_input ? kExitUsage : kExitRefused;
}

uint64_t reply_number(const Json& reply, const char* key) {
  auto it = reply.find(key);
  return it != reply.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace memd::client
