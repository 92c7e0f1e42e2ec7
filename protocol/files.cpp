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

std::optional<MemoryFilePath> parse_memory_file_path(std::string_view path) {
  if (path == kBlockSizeBytesPath) return MemoryFilePath{};
  constexpr std::string_view kPrefix = "memory/memory";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view number = path.substr(0, slash);
  const std::string_view name = path.substr(slash + 1);
  if (number.empty() || number.size() > 15 || (number.size() > 1 && number[0] == '0')) {
    return std::nullopt;
  }
  uint64_t block = 0;
  for (char c : number) {
    if (c < '0' || c > '9') return std::nullopt;
    block = block * 10 + static_cast<uint64_t>(c - '0');
  }
  for (size_t i = 0; i < kMemoryBlockFileNames.size(); ++i) {
    if (kMemoryBlockFileNames[i] == name) return MemoryFilePath{block, i};
  }
  return std::nullopt;
}

}  // namespace memd::protocol
