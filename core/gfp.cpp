#include "core/gfp.h"

#include <array>
#include <charconv>
#include <utility>

namespace memd {
namespace {

struct GfpName {
  Gfp mask;
  std::string_view name;
};

// __def_gfpflag_names in include/trace/events/mmflags.h: composites first
// (most bits first), then single bits in bit order.
constexpr std::array<GfpName, 38> kGfpNames = {{
    {gfp::kTranshuge, "GFP_TRANSHUGE"},
    {gfp::kTranshugeLight, "GFP_TRANSHUGE_LIGHT"},
    {gfp::kHighuserMovable, "GFP_HIGHUSER_MOVABLE"},
    {gfp::kHighuser, "GFP_HIGHUSER"},
    {gfp::kUser, "GFP_USER"},
    {gfp::kKernelAccount, "GFP_KERNEL_ACCOUNT"},
    {gfp::kKernel, "GFP_KERNEL"},
    {gfp::kNofs, "GFP_NOFS"},
    {gfp::kAtomic, "GFP_ATOMIC"},
    {gfp::kNoio, "GFP_NOIO"},
    {gfp::kNowait, "GFP_NOWAIT"},
    {gfp::kDma, "GFP_DMA"},
    {gfp::kDma32, "GFP_DMA32"},
    {gfp::kReclaim, "__GFP_RECLAIM"},
    {gfp::kDma, "__GFP_DMA"},
    {gfp::kHighmem, "__GFP_HIGHMEM"},
    {gfp::kDma32, "__GFP_DMA32"},
    {gfp::kMovable, "__GFP_MOVABLE"},
    {gfp::kReclaimable, "__GFP_RECLAIMABLE"},
    {gfp::kHigh, "__GFP_HIGH"},
    {gfp::kIo, "__GFP_IO"},
    {gfp::kFs, "__GFP_FS"},
    {gfp::kZero, "__GFP_ZERO"},
    {gfp::kDirectReclaim, "__GFP_DIRECT_RECLAIM"},
    {gfp::kKswapdReclaim, "__GFP_KSWAPD_RECLAIM"},
    {gfp::kWrite, "__GFP_WRITE"},
    {gfp::kNowarn, "__GFP_NOWARN"},
    {gfp::kRetryMayfail, "__GFP_RETRY_MAYFAIL"},
    {gfp::kNofail, "__GFP_NOFAIL"},
    {gfp::kNoretry, "__GFP_NORETRY"},
    {gfp::kMemalloc, "__GFP_MEMALLOC"},
    {gfp::kComp, "__GFP_COMP"},
    {gfp::kNomemalloc, "__GFP_NOMEMALLOC"},
    {gfp::kHardwall, "__GFP_HARDWALL"},
    {gfp::kThisnode, "__GFP_THISNODE"},
    {gfp::kAccount, "__GFP_ACCOUNT"},
    {gfp::kZerotags, "__GFP_ZEROTAGS"},
    {gfp::kNoObjExt, "__GFP_NO_OBJ_EXT"},
}};

std::optional<Gfp> parse_hex(std::string_view s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size() || v > 0xffffffffULL) return std::nullopt;
  return static_cast<Gfp>(v);
}

std::optional<Gfp> lookup_name(std::string_view name) {
  for (const auto& n : kGfpNames) {
    if (n.name == name) return n.mask;
  }
  // Accept "GFP_ZERO" for "__GFP_ZERO" and similar, as people type them.
  if (name.substr(0, 4) == "GFP_") {
    std::string full = "__";
    full += name;
    for (const auto& n : kGfpNames) {
      if (n.name == full) return n.mask;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<Gfp> parse_gfp(std::string_view text) {
  if (text.empty()) return make_error("empty GFP flags");
  if (text == "none" || text == "0") return Gfp{0};
  if (auto hex = parse_hex(text)) return *hex;
  Gfp flags = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t bar = text.find('|', pos);
    std::string_view part = text.substr(pos, bar == std::string_view::npos ? bar : bar - pos);
    if (part.empty()) return make_error("empty flag name in GFP flags '" + std::string(text) + "'");
    if (auto hex = parse_hex(part)) {
      flags |= *hex;
    } else if (auto mask = lookup_name(part)) {
      flags |= *mask;
    } else {
      return make_error("unknown GFP flag '" + std::string(part) + "'");
    }
    if (bar == std::string_view::npos) break;
    pos = bar + 1;
  }
  return flags;
}

std::string format_gfp(Gfp flags) {
  if (flags == 0) return "none";
  std::string out;
  Gfp left = flags;
  for (const auto& n : kGfpNames) {
    if (left == 0) break;
    if ((left & n.mask) == n.mask) {
      if (!out.empty()) out += '|';
      out += n.name;
      left &= ~n.mask;
    }
  }
  if (left != 0) {
    if (!out.empty()) out += '|';
    char buf[16];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, left, 16);
    (void)ec;
    out += "0x";
    out.append(buf, p);
  }
  return out;
}

}  // namespace memd
