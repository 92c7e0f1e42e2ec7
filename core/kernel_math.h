// The kernel's integer helpers that memd's arithmetic must match bit for bit
// (include/linux/math.h, log2.h, bitops.h, lib/math/int_sqrt.c). One copy for
// all of core/.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace memd {

// mult_frac(x, n, d): x * n / d without the intermediate overflow.
constexpr uint64_t mult_frac(uint64_t x, uint64_t n, uint64_t d) {
  return (x / d) * n + ((x % d) * n) / d;
}

// int_sqrt(): floor of the square root.
inline uint64_t int_sqrt(uint64_t x) {
  uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<long double>(x)));
  while (r * r > x) {
    --r;
  }
  while ((r + 1) * (r + 1) <= x) {
    ++r;
  }
  return r;
}

// fls(): 1-based index of the most significant set bit, 0 for 0.
constexpr int fls(uint64_t x) {
  return x ? 64 - std::countl_zero(x) : 0;
}

// rounddown_pow_of_two(); 0 for 0.
constexpr uint64_t rounddown_pow_of_two(uint64_t x) {
  return x ? 1ULL << (fls(x) - 1) : 0;
}

}  // namespace memd
