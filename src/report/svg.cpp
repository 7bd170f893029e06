#include "medvlmbench/report/svg.h"

#include <algorithm>
#include <sstream>

#include "medvlmbench/report/format.h"

namespace mvb::report {

std::string roc_svg(const std::vector<double>& fpr, const std::vector<double>& tpr, const std::string& title) {
  // 240 x 240 plot area with a 40 px margin on the left and bottom for the axes.
  const double x0 = 44, y0 = 12, w = 220, h = 220;
  auto px = [&](double f) { return fixed(x0 + f * w, 2); };
  auto py = [&](double t) { return fixed(y0 + (1 - t) * h, 2); };
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"roc\" width=\"280\" height=\"270\" viewBox=\"0 0 280 270\" "
        "role=\"img\" aria-label=\"ROC curve\">"
     << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << w << "\" height=\"" << h
     << "\" fill=\"#fff\" stroke=\"#888\"/>";
  for (int k = 0; k <= 4; ++k) {
    const double v = k / 4.0;
    os << "<line x1=\"" << px(v) << "\" y1=\"" << py(0) << "\" x2=\"" << px(v) << "\" y2=\"" << fixed(y0 + h + 4, 2)
       << "\" stroke=\"#888\"/>"
       << "<text x=\"" << px(v) << "\" y=\"" << fixed(y0 + h + 16, 2) << "\" font-size=\"10\" text-anchor=\"middle\">"
       << fixed(v, 2) << "</text>"
       << "<line x1=\"" << fixed(x0 - 4, 2) << "\" y1=\"" << py(v) << "\" x2=\"" << px(0) << "\" y2=\"" << py(v)
       << "\" stroke=\"#888\"/>"
       << "<text x=\"" << fixed(x0 - 6, 2) << "\" y=\"" << fixed(y0 + (1 - v) * h + 3, 2)
       << "\" font-size=\"10\" text-anchor=\"end\">" << fixed(v, 2) << "</text>";
  }
  os << "<line x1=\"" << px(0) << "\" y1=\"" << py(0) << "\" x2=\"" << px(1) << "\" y2=\"" << py(1)
     << "\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>";
  os << "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"";
  for (size_t i = 0; i < std::min(fpr.size(), tpr.size()); ++i) os << (i ? " " : "") << px(fpr[i]) << "," << py(tpr[i]);
  os << "\"/>";
  os << "<text x=\"" << fixed(x0 + w / 2, 2)
     << "\" y=\"264\" font-size=\"11\" text-anchor=\"middle\">False positive "
        "rate</text>"
     << "<text x=\"12\" y=\"" << fixed(y0 + h / 2, 2)
     << "\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 12 " << fixed(y0 + h / 2, 2)
     << ")\">True positive rate</text>"
     << "<text x=\"" << fixed(x0 + w - 6, 2) << "\" y=\"" << fixed(y0 + h - 8, 2)
     << "\" font-size=\"12\" text-anchor=\"end\">" << html_escape(title) << "</text></svg>";
  return os.str();
}

std::string confusion_svg(const std::vector<std::vector<long>>& counts, const std::vector<std::string>& classes) {
  const size_t k = counts.size();
  const int cell = k <= 4 ? 48 : k <= 8 ? 32 : 20, left = 150, top = 20;
  long max_count = 1;
  for (const auto& row : counts)
    for (long v : row) max_count = std::max(max_count, v);
  const int width = left + cell * static_cast<int>(k) + 10, height = top + cell * static_cast<int>(k) + 130;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"confusion\" width=\"" << width << "\" height=\"" << height
     << "\" viewBox=\"0 0 " << width << " " << height << "\" role=\"img\" aria-label=\"confusion matrix\">"
     << "<text x=\"" << left << "\" y=\"12\" font-size=\"11\">predicted →</text>";
  auto name = [&](size_t i) { return i < classes.size() ? classes[i] : std::to_string(i); };
  for (size_t i = 0; i < k; ++i) {
    os << "<text x=\"" << left - 6 << "\" y=\"" << top + static_cast<int>(i) * cell + cell / 2 + 4
       << "\" font-size=\"10\" text-anchor=\"end\">" << html_escape(name(i), 40) << "</text>";
    const int cx = left + static_cast<int>(i) * cell + cell / 2, cy = top + static_cast<int>(k) * cell + 6;
    os << "<text x=\"" << cx << "\" y=\"" << cy << "\" font-size=\"10\" text-anchor=\"end\" transform=\"rotate(-60 "
       << cx << " " << cy << ")\">" << html_escape(name(i), 40) << "</text>";
    for (size_t j = 0; j < k; ++j) {
      const long v = j < counts[i].size() ? counts[i][j] : 0;
      const int shade = 255 - static_cast<int>(200.0 * static_cast<double>(v) / static_cast<double>(max_count));
      const int x = left + static_cast<int>(j) * cell, y = top + static_cast<int>(i) * cell;
      os << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell << "\" height=\"" << cell << "\" fill=\"rgb("
         << shade << "," << shade << ",255)\" stroke=\"#fff\"/>"
         << "<text x=\"" << x + cell / 2 << "\" y=\"" << y + cell / 2 + 4
         << "\" font-size=\"11\" text-anchor=\"middle\"" << (shade < 140 ? " fill=\"#fff\"" : "") << ">" << v
         << "</text>";
    }
  }
  os << "</svg>";
  return os.str();
}

}  // namespace mvb::report
