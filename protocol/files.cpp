#include "protocol/files.h"

namespace memd::protocol {

std::optional<size_t> file_index(std::string_view name) {
  for (size_t i = 0; i < kFileNames.size(); ++i) {
    if (kFileNames[i] == name) return i;
  }
  return std::nullopt;
}

std::string file_names(std::string_view last) {
  std::string out;
  for (size_t i = 0; i < kFileNames.size(); ++i) {
    if (i > 0) out += i + 1 == kFileNames.size() ? last : ", ";
    out += kFileNames[i];
  }
  return out;
}

}  // namespace memd::protocol
