// The arithmetic of memctl's plots, apart from the drawing: scales from
// values to pixels (linear, or log(1 + x) for counts that span decades),
// round tick values and their labels ("250k"), labels pushed apart so they
// do not overlap, and the decimation of a series to a few points per pixel
// column.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/svg.h"

namespace memd::client {

// Maps values in [v0, v1] to pixels [p0, p1] (p1 < p0 for a y axis):
// linearly, or linearly in log(1 + v). A picture states its scales in
// data- attributes so a test can map pixels back to values:
//   p = p0 + (f(v) - f(v0)) / (f(v1) - f(v0)) * (p1 - p0),  f = v or log1p(v).
struct Scale {
  enum class Kind { kLinear, kLog1p };
  Kind kind = Kind::kLinear;
  double v0 = 0, v1 = 1;
  double p0 = 0, p1 = 1;

  double operator()(double v) const;
  const char* kind_name() const { return kind == Kind::kLinear ? "linear" : "log1p"; }
};

// The smallest of 1, 2, 5, 10, 20, 50, ... that is >= v (1 for v <= 1).
double nice_ceil(double v);

// A y scale from 0 to a round value >= `max` (4 or 5 ticks for kLinear, the
// 1-2-5 value above `max` for kLog1p).
Scale y_scale(Scale::Kind kind, uint64_t max, double p0, double p1);

// Round values to mark on a scale: for kLinear, multiples of 1, 2, 2.5 or 5
// times a power of ten, about `target` of them, integers only; for kLog1p,
// 0 and the powers of ten within the scale, and its top when that lies
// `min_gap` pixels or more above the last of them.
std::vector<double> ticks(const Scale& s, int target, double min_gap);

// A tick value as a person reads it: 0, 750, 1k, 2.5k, 250k, 1.5M, 2G.
std::string tick_label(double v);

// A count with thousands separators: 1,234,567.
std::string grouped(uint64_t v);

// Label positions near `wanted` (pixels, one per label) at least `gap`
// apart and within [top, bottom], each as close to its wish as that allows.
// Labels wanting the same place are ordered by `rank` (lower above).
std::vector<double> spread_labels(const std::vector<double>& wanted, const std::vector<int>& rank,
                                  double gap, double top, double bottom);

// `points` (x non-decreasing) reduced to at most four per pixel column, those
// the column's first, last, lowest and highest, in their order: the line
// drawn through them covers the same pixels, so spikes stay visible.
// Unchanged when there are fewer than four points per column.
std::vector<Point> decimate(const std::vector<Point>& points, double x0, double x1);

}  // namespace memd::client
