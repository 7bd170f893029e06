// Inline SVG figures of the report (well-formed XML, no scripts, no external references).
#pragma once

#include <string>
#include <vector>

namespace mvb::report {

// A ROC curve: the step curve through (fpr[i], tpr[i]), the chance diagonal, axes with ticks, and
// `title` (e.g. "AUROC 0.8333") in the corner.
std::string roc_svg(const std::vector<double>& fpr, const std::vector<double>& tpr, const std::string& title);

// A confusion matrix as a heat map: rows true classes, columns predicted classes, each cell its count.
std::string confusion_svg(const std::vector<std::vector<long>>& counts, const std::vector<std::string>& classes);

}  // namespace mvb::report
