// The spelling of values on the wire, in one place: numbers as a client may
// type them, a pfn as memd prints it, a word of a command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/result.h"

namespace memd::protocol {

// A number as the command language takes it: decimal, or hex after "0x" (or
// "0X"). No sign, no blanks, nothing after the digits; nullopt when it does
// not fit 64 bits.
std::optional<uint64_t> parse_uint(std::string_view text);

// A pfn as memd writes it in replies and commands: "0x1f400".
std::string pfn_text(uint64_t pfn);

// A count with a comma between thousands, as people write it: "12,345".
std::string thousands(uint64_t n);

// A value as one word of the command language: as is when it has no blank,
// quote or backslash, else in double quotes with backslash escapes (the
// inverse of parse_command's tokenizer). Control characters other than tab
// are refused: a newline would start a second command.
Result<std::string> quote_value(std::string_view value);

}  // namespace memd::protocol
