#include "client/plot_scale.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

namespace memd::client {
namespace {

double f(Scale::Kind kind, double v) {
  return kind == Scale::Kind::kLog1p ? std::log1p(v) : v;
}

// The smallest of 1, 2, 2.5, 5 times a power of ten that is >= v, and an
// integer (so 2.5 only from 25 on).
double nice_step(double v) {
  double p = 1;
  while (p * 10 <= v) {
    p *= 10;
  }
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= v && (m != 2.5 || p >= 10)) return m * p;
  }
  return 10 * p;
}

std::vector<double> linear_ticks(const Scale& s, int target) {
  const double step = nice_step((s.v1 - s.v0) / std::max(target, 1));
  std::vector<double> out;
  for (double v = std::ceil(s.v0 / step) * step; v <= s.v1 + step * 1e-9; v += step) {
    out.push_back(v);
  }
  return out;
}

std::vector<double> log_ticks(const Scale& s, double min_gap) {
  std::vector<double> out = {0};
  for (double v = 1; v <= s.v1; v *= 10) {
    out.push_back(v);
  }
  if (out.back() != s.v1 && std::abs(s(s.v1) - s(out.back())) >= min_gap) out.push_back(s.v1);
  return out;
}

}  // namespace

double Scale::operator()(double v) const {
  const double a = f(kind, v0), b = f(kind, v1);
  if (b == a) return p0;
  return p0 + (f(kind, v) - a) / (b - a) * (p1 - p0);
}

double nice_ceil(double v) {
  double p = 1;
  while (p * 10 <= v) {
    p *= 10;
  }
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

Scale y_scale(Scale::Kind kind, uint64_t max, double p0, double p1) {
  Scale s{kind, 0, 1, p0, p1};
  const auto m = static_cast<double>(max);
  if (kind == Scale::Kind::kLog1p) {
    s.v1 = nice_ceil(m);
  } else {
    const double step = nice_step(m / 4);
    s.v1 = std::max(step, std::ceil(m / step) * step);
  }
  return s;
}

std::vector<double> ticks(const Scale& s, int target, double min_gap) {
  return s.kind == Scale::Kind::kLog1p ? log_ticks(s, min_gap) : linear_ticks(s, target);
}

std::string tick_label(double v) {
  constexpr std::array<std::pair<double, const char*>, 3> kUnits = {
      {{1e9, "G"}, {1e6, "M"}, {1e3, "k"}}};
  for (const auto& [unit, suffix] : kUnits) {
    if (std::abs(v) >= unit) return fmt::format("{:g}{}", v / unit, suffix);
  }
  return fmt::format("{:g}", v);
}

std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::vector<double> spread_labels(const std::vector<double>& wanted, const std::vector<int>& rank,
                                  double gap, double top, double bottom) {
  std::vector<size_t> order(wanted.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return wanted[a] != wanted[b] ? wanted[a] < wanted[b] : rank[a] < rank[b];
  });
  std::vector<double> pos(wanted.size());
  double prev = top - gap;
  for (size_t i : order) {
    pos[i] = prev = std::max(wanted[i], prev + gap);
  }
  double next = bottom + gap;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    pos[*it] = next = std::min(pos[*it], next - gap);
  }
  return pos;
}

std::vector<Point> decimate(const std::vector<Point>& points, double x0, double x1) {
  const double columns = std::max(1.0, std::ceil(x1 - x0));
  if (static_cast<double>(points.size()) <= 4 * columns) return points;
  std::vector<Point> out;
  const auto column = [&](size_t i) { return std::floor(points[i].x - x0); };
  for (size_t first = 0; first < points.size();) {
    size_t last = first, lo = first, hi = first;
    while (last + 1 < points.size() && column(last + 1) == column(first)) {
      ++last;
      if (points[last].y < points[lo].y) lo = last;
      if (points[last].y > points[hi].y) hi = last;
    }
    std::array<size_t, 4> keep = {first, lo, hi, last};
    std::sort(keep.begin(), keep.end());
    for (size_t k = 0; k < keep.size(); ++k) {
      if (k == 0 || keep[k] != keep[k - 1]) out.push_back(points[keep[k]]);
    }
    first = last + 1;
  }
  return out;
}

}  // namespace memd::client
