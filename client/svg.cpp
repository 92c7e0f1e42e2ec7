#include "client/svg.h"

#include <fmt/format.h>

#include <cmath>

namespace memd::client {
namespace {

// The length of the UTF-8 sequence starting at s[i], or 0 when it is not one
// (overlong forms and surrogates included).
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
  }
  if (n == 2 && c < 0xc2) return 0;                                  // overlong
  if (n == 3 && c == 0xe0 && b(1) < 0xa0) return 0;                  // overlong
  if (n == 3 && c == 0xed && b(1) >= 0xa0) return 0;                 // surrogate
  if (n == 4 && ((c == 0xf0 && b(1) < 0x90) || c > 0xf4)) return 0;  // overlong, > U+10FFFF
  if (n == 4 && c == 0xf4 && b(1) >= 0x90) return 0;
  return n;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_length(text, i);
    const char c = text[i];
    if (n == 0 || (n == 1 && static_cast<unsigned char>(c) < 0x20)) {
      out += '?';
      ++i;
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string coord(double v) {
  const double r = std::round(v * 10) / 10;
  return fmt::format("{:.1f}", r == 0 ? 0.0 : r);
}

SvgWriter::SvgWriter(int width, int height, std::string_view title) {
  out_ = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<title>{2}</title>\n"
      "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n",
      width, height, xml_escape(title));
}

void SvgWriter::attrs(const Attrs& a) {
  for (const auto& [name, value] : a) {
    out_ += ' ';
    out_ += name;
    out_ += "=\"";
    out_ += xml_escape(value);
    out_ += '"';
  }
}

void SvgWriter::open_group(const Attrs& a) {
  out_ += "<g";
  attrs(a);
  out_ += ">\n";
  ++depth_;
}

void SvgWriter::close_group() {
  if (depth_ == 0) return;
  out_ += "</g>\n";
  --depth_;
}

void SvgWriter::rect(double x, double y, double w, double h, const Attrs& a) {
  out_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"", coord(x), coord(y),
                      coord(w), coord(h));
  attrs(a);
  out_ += "/>\n";
}

void SvgWriter::line(double x1, double y1, double x2, double y2, const Attrs& a) {
  out_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"", coord(x1), coord(y1),
                      coord(x2), coord(y2));
  attrs(a);
  out_ += "/>\n";
}

void SvgWriter::polyline(const std::vector<Point>& points, const Attrs& a) {
  out_ += "<polyline points=\"";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out_ += ' ';
    out_ += coord(points[i].x);
    out_ += ',';
    out_ += coord(points[i].y);
  }
  out_ += "\" fill=\"none\"";
  attrs(a);
  out_ += "/>\n";
}

void SvgWriter::text(double x, double y, std::string_view text, const Attrs& a) {
  out_ += fmt::format("<text x=\"{}\" y=\"{}\"", coord(x), coord(y));
  attrs(a);
  out_ += '>';
  out_ += xml_escape(text);
  out_ += "</text>\n";
}

std::string SvgWriter::finish() {
  while (depth_ > 0) {
    close_group();
  }
  out_ += "</svg>\n";
  return std::move(out_);
}

}  // namespace memd::client
