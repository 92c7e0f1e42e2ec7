// A small SVG 1.1 writer for memctl's pictures: elements appended to one
// string, attribute values and text escaped for XML, coordinates printed with
// one decimal, so the same picture always gives the same bytes.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memd::client {

struct Point {
  double x = 0;
  double y = 0;
};

// Attributes in the order they are written: {"fill", "#fff"}.
using Attrs = std::vector<std::pair<std::string_view, std::string>>;

// `text` made safe inside XML text and attribute values: & < > " ' escaped,
// control characters and bytes that are not UTF-8 replaced by '?'.
std::string xml_escape(std::string_view text);

// A coordinate: one decimal ("12.5"), never "-0.0".
std::string coord(double v);

class SvgWriter {
 public:
  // The XML declaration and the <svg> element: width and height in px and a
  // viewBox of the same size, sans-serif text.
  SvgWriter(int width, int height, std::string_view title);

  void open_group(const Attrs& attrs);
  void close_group();
  void rect(double x, double y, double w, double h, const Attrs& attrs);
  void line(double x1, double y1, double x2, double y2, const Attrs& attrs);
  void polyline(const std::vector<Point>& points, const Attrs& attrs);
  void text(double x, double y, std::string_view text, const Attrs& attrs);
  // Closes the <svg> element (and any group left open); returns the document.
  std::string finish();

 private:
  void attrs(const Attrs& a);
  std::string out_;
  int depth_ = 0;  // open groups
};

}  // namespace memd::client
