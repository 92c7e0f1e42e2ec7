#include "protocol/text.h"

#include <charconv>

namespace memd::protocol {

std::optional<uint64_t> parse_uint(std::string_view text) {
  std::string_view s = text;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string pfn_text(uint64_t pfn) {
  char buf[2 + 16];
  buf[0] = '0';
  buf[1] = 'x';
  auto [p, ec] = std::to_chars(buf + 2, buf + sizeof buf, pfn, 16);
  (void)ec;  // 16 hex digits always fit
  return std::string(buf, p);
}

Result<std::string> quote_value(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    const bool control = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    if (control && c != '\t') {
      return make_error("control character in '" + std::string(value.substr(0, 40)) + "'");
    }
    if (c == ' ' || c == '\t' || c == '"' || c == '\\') plain = false;
  }
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  for (size_t i = digits.size(); i > 3; i -= 3) {
    digits.insert(i - 3, 1, ',');
  }
  return digits;
}

}  // namespace memd::protocol
