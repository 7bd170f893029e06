// `medvlmbench report <exp_path>`: every run under a folder turned into report.html (one
// self-contained file: inline CSS and SVG, images as data: URIs, no script, no network; written as
// well-formed XHTML so any XML parser reads it), report.md and report.json (the same numbers for
// programs).
//
// Contents: one leaderboard per task in the paper's shape (rows model · checkpoint · usage, columns
// dataset × headline meter from report/headline.h, each cell the value and its 95% bootstrap interval
// from metrics.json, the best of each column in bold); then per run: metadata (model, checkpoint
// fingerprint, dataset and split, samples and errors, time, samples/s, tokens and API cost, versions,
// config), every scalar meter with its interval, a ROC curve (binary diagnosis), a confusion matrix
// (single-label diagnosis), the per-question-type and per-modality breakdown (VQA), and the best and
// worst samples with a thumbnail, the question, answer, prediction and agent trace.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mvb::report {

struct ReportOptions {
  std::string out_dir;    // where report.* go; "" = the exp_path itself
  int examples = 3;       // best and worst samples shown per run (0 = none)
  int thumbnail_px = 96;  // longest side of the embedded thumbnails (0 = no thumbnails)
  int bootstrap = -1;     // resamples when re-scoring merged shards (-1 = each run's own)
  std::string title = "medvlmbench report";
};

struct ReportFiles {
  std::string html, md, json;
  size_t eval_runs = 0, train_runs = 0;
};

// Throws mvb::Error when exp_path is not a folder or holds no run.
ReportFiles write_report(const std::string& exp_path, const ReportOptions& opts);

}  // namespace mvb::report
