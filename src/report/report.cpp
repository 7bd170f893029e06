#include "medvlmbench/report/report.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/report/format.h"
#include "medvlmbench/report/headline.h"
#include "medvlmbench/report/runs.h"
#include "medvlmbench/report/svg.h"
#include "medvlmbench/tasks/task.h"

namespace mvb::report {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Leaderboards

struct Column {
  std::string dataset;  // Run::column_label()
  HeadlineMeter meter;
};

struct Cell {
  const Run* run = nullptr;
  std::optional<double> value;
  std::optional<std::array<double, 2>> ci;
  bool best = false;
};

struct Leaderboard {
  std::string task;
  std::vector<Column> columns;
  std::vector<std::string> rows;
  std::vector<std::vector<Cell>> cells;  // [row][column]
};

std::optional<double> number(const json& obj, const std::string& key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return std::nullopt;
  const double v = obj[key].get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::optional<std::array<double, 2>> interval(const Run& r, const std::string& key) {
  const json ci = r.metrics.value("ci95", json::object());
  if (!ci.contains(key) || !ci[key].is_array() || ci[key].size() != 2 || !ci[key][0].is_number() ||
      !ci[key][1].is_number())
    return std::nullopt;
  return std::array<double, 2>{ci[key][0].get<double>(), ci[key][1].get<double>()};
}

std::vector<Leaderboard> leaderboards(const std::vector<Run>& runs) {
  std::vector<std::string> tasks;
  for (const auto& r : runs)
    if (r.kind == "eval" && r.metrics.contains("metrics") &&
        std::find(tasks.begin(), tasks.end(), r.task) == tasks.end())
      tasks.push_back(r.task);
  std::vector<Leaderboard> out;
  for (const auto& task : tasks) {
    Leaderboard lb;
    lb.task = task;
    std::vector<std::string> datasets;
    std::map<std::pair<std::string, std::string>, const Run*> by_cell;  // (row, dataset) -> run; a later run wins
    for (const auto& r : runs) {
      if (r.kind != "eval" || r.task != task || !r.metrics.contains("metrics")) continue;
      if (std::find(datasets.begin(), datasets.end(), r.column_label()) == datasets.end())
        datasets.push_back(r.column_label());
      if (std::find(lb.rows.begin(), lb.rows.end(), r.row_label()) == lb.rows.end()) lb.rows.push_back(r.row_label());
      by_cell[{r.row_label(), r.column_label()}] = &r;
    }
    for (const auto& d : datasets)
      for (const auto& m : headline_meters(task)) {
        bool any = false;
        for (const auto& [key, run] : by_cell)
          if (key.second == d && number(run->metrics.value("metrics", json::object()), m.key)) any = true;
        if (any) lb.columns.push_back({d, m});
      }
    lb.cells.assign(lb.rows.size(), std::vector<Cell>(lb.columns.size()));
    for (size_t i = 0; i < lb.rows.size(); ++i)
      for (size_t j = 0; j < lb.columns.size(); ++j) {
        const auto it = by_cell.find({lb.rows[i], lb.columns[j].dataset});
        if (it == by_cell.end()) continue;
        Cell& c = lb.cells[i][j];
        c.run = it->second;
        c.value = number(c.run->metrics.value("metrics", json::object()), lb.columns[j].meter.key);
        c.ci = interval(*c.run, lb.columns[j].meter.key);
      }
    // Every headline meter is higher-is-better; ties are all marked; a lone value is no "best".
    for (size_t j = 0; j < lb.columns.size(); ++j) {
      std::optional<double> best;
      int values = 0;
      for (size_t i = 0; i < lb.rows.size(); ++i)
        if (lb.cells[i][j].value) {
          ++values;
          if (!best || *lb.cells[i][j].value > *best) best = lb.cells[i][j].value;
        }
      if (values < 2) continue;
      for (size_t i = 0; i < lb.rows.size(); ++i)
        lb.cells[i][j].best = best && lb.cells[i][j].value && *lb.cells[i][j].value == *best;
    }
    out.push_back(std::move(lb));
  }
  return out;
}

std::string ci_text(const std::optional<std::array<double, 2>>& ci) {
  return ci ? "[" + fixed((*ci)[0]) + ", " + fixed((*ci)[1]) + "]" : "";
}

// ---------------------------------------------------------------------------------------------
// Per-run details

struct Example {
  size_t row = 0;
  std::string meter;
  double value = 0;
};

struct RunDetail {
  const Run* run = nullptr;
  std::vector<json> rows;
  std::vector<Example> best, worst;
  std::vector<std::vector<long>> confusion;  // single-label diagnosis
  std::vector<std::string> classes;
  std::map<std::string, long> question_types;  // VQA: open/closed/multi-choice counts
};

RunDetail detail_of(const Run& run, int examples) {
  RunDetail d;
  d.run = &run;
  if (run.kind != "eval") return d;
  d.rows = load_rows(run);
  const auto* task = task_registry().find(run.task);
  if (!task) return d;
  const auto values = task->evaluator()->sample_values(d.rows);
  std::vector<Example> ranked;
  for (size_t i = 0; i < d.rows.size(); ++i) {
    const std::string m = first_present(rank_meters(run.task), values[i]);
    if (!m.empty()) ranked.push_back({i, m, values[i].at(m)});
  }
  // Highest first; ties keep dataset order, so the choice is deterministic.
  std::stable_sort(ranked.begin(), ranked.end(), [](const Example& a, const Example& b) { return a.value > b.value; });
  const size_t k = std::min<size_t>(static_cast<size_t>(std::max(examples, 0)), ranked.size() / 2 + ranked.size() % 2);
  d.best.assign(ranked.begin(), ranked.begin() + static_cast<long>(k));
  for (size_t i = 0; i < k && ranked.size() > k + i; ++i) d.worst.push_back(ranked[ranked.size() - 1 - i]);

  if (run.task == "diagnosis") {
    const json ds = run.manifest.value("dataset", json::object());
    if (ds.contains("classes") && ds["classes"].is_array())
      for (const auto& c : ds["classes"]) d.classes.push_back(c.is_string() ? c.get<std::string>() : c.dump());
    const bool multi = ds.value("multi_label", false);
    for (const auto& row : d.rows) {
      if (multi || row.value("status", "") == "failed" || !row.contains("scores") || !row.contains("label")) continue;
      const auto scores = row["scores"].get<std::vector<double>>();
      const auto label = row["label"].get<std::vector<int>>();
      if (scores.size() < 2 || label.empty() || label[0] < 0 || static_cast<size_t>(label[0]) >= scores.size())
        continue;
      if (d.confusion.empty()) d.confusion.assign(scores.size(), std::vector<long>(scores.size(), 0));
      if (d.confusion.size() != scores.size()) continue;
      const size_t pred = static_cast<size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
      ++d.confusion[static_cast<size_t>(label[0])][pred];
    }
  }
  if (run.task == "vqa")
    for (const auto& row : d.rows)
      if (row.value("status", "") != "failed") ++d.question_types[row.value("question_type", std::string("?"))];
  return d;
}

// A JPEG thumbnail as a data: URI, or "" when the image cannot be read (a folder moved since the run).
std::string thumbnail(const std::string& path, int px) {
  if (px <= 0 || path.empty() || !io::exists(path)) return "";
  cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
  if (img.empty()) return "";
  const double scale = static_cast<double>(px) / std::max(img.cols, img.rows);
  if (scale < 1.0)
    cv::resize(
        img, img,
        cv::Size(std::max(1, static_cast<int>(img.cols * scale)), std::max(1, static_cast<int>(img.rows * scale))), 0,
        0, cv::INTER_AREA);
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".jpg", img, bytes, {cv::IMWRITE_JPEG_QUALITY, 85})) return "";
  return "data:image/jpeg;base64," + base64(bytes);
}

std::string text_of(const json& row, const char* key) {
  if (!row.contains(key) || row[key].is_null()) return "";
  return row[key].is_string() ? row[key].get<std::string>() : row[key].dump();
}

// The sample's answer and prediction in words: VQA/caption text, diagnosis class names.
std::pair<std::string, std::string> answer_and_prediction(const RunDetail& d, const json& row) {
  if (d.run->task != "diagnosis") return {text_of(row, "answer"), text_of(row, "prediction")};
  auto name = [&](int c) {
    return c >= 0 && static_cast<size_t>(c) < d.classes.size() ? d.classes[static_cast<size_t>(c)] : std::to_string(c);
  };
  std::string answer, pred;
  if (row.contains("label") && row["label"].is_array() && !row["label"].empty())
    answer = name(row["label"][0].get<int>());
  if (row.contains("scores") && row["scores"].is_array() && row["scores"].size() > 1) {
    const auto s = row["scores"].get<std::vector<double>>();
    const int p = static_cast<int>(std::max_element(s.begin(), s.end()) - s.begin());
    pred = name(p) + " (" + fixed(s[static_cast<size_t>(p)], 3) + ")";
  }
  return {answer, pred};
}

std::string metadata_value(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fixed(v.get<double>(), 3);
  return v.dump();
}

// (label, value) pairs of a run's metadata.
std::vector<std::pair<std::string, std::string>> metadata(const Run& r) {
  const json& m = r.manifest;
  const json model = m.value("model", json::object());
  const json ckpt = m.value("checkpoint", json::object());
  const json samples = m.value("samples", json::object());
  const json timings = m.value("timings", json::object());
  const json stats = m.value("usage_stats", json::object());
  const json versions = m.value("versions", json::object());
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("folder",
                   r.shards.size() > 1 ? r.dir + " (+" + std::to_string(r.shards.size() - 1) + " shards)" : r.dir);
  out.emplace_back("status", r.status);
  out.emplace_back("model",
                   r.model + (model.contains("architecture") ? " — " + metadata_value(model["architecture"]) : ""));
  std::string fp = model.contains("fingerprint") ? metadata_value(model["fingerprint"]) : "";
  if (fp.empty() && ckpt.contains("revision") && !ckpt["revision"].get<std::string>().empty())
    fp = "revision " + ckpt["revision"].get<std::string>();
  out.emplace_back("checkpoint", r.model_path + (fp.empty() ? "" : " (" + fp + ")") +
                                     (ckpt.contains("folder") ? " at " + metadata_value(ckpt["folder"]) : ""));
  out.emplace_back("dataset", r.dataset + " / " + r.split);
  out.emplace_back("usage", r.usage);
  if (!samples.empty())
    out.emplace_back(
        "samples",
        metadata_value(samples.value("written", json(0))) + " written, " +
            metadata_value(samples.value("errors", json(0))) + " errors" +
            (r.metrics.contains("num_scored") ? ", " + metadata_value(r.metrics["num_scored"]) + " scored" : ""));
  if (timings.contains("total_s")) out.emplace_back("time", fixed(timings["total_s"].get<double>(), 1) + " s");
  if (timings.contains("samples_per_s"))
    out.emplace_back("samples/s", fixed(timings["samples_per_s"].get<double>(), 2));
  if (stats.contains("prompt_tokens") || stats.contains("completion_tokens"))
    out.emplace_back("tokens", metadata_value(stats.value("prompt_tokens", json(0))) + " prompt, " +
                                   metadata_value(stats.value("completion_tokens", json(0))) + " completion");
  std::optional<double> cost;
  if (stats.contains("api_usage")) cost = number(stats["api_usage"], "cost_usd");
  if (!cost && r.metrics.contains("agent")) cost = number(r.metrics["agent"], "cost_usd");
  if (cost) out.emplace_back("API cost", "$" + fixed(*cost, 4));
  if (m.contains("started_at")) out.emplace_back("started", metadata_value(m["started_at"]));
  if (m.contains("device")) out.emplace_back("device", metadata_value(m["device"]));
  if (!versions.empty())
    out.emplace_back("version", "medvlmbench " + metadata_value(versions.value("medvlmbench", json("?"))) + " (" +
                                    metadata_value(versions.value("git_commit", json("?"))) + "), LibTorch " +
                                    metadata_value(versions.value("libtorch", json("?"))));
  return out;
}

// Scalar meters of a run: name -> value (null kept as nullopt), in metrics.json's order.
std::vector<std::pair<std::string, std::optional<double>>> scalar_meters(const Run& r) {
  std::vector<std::pair<std::string, std::optional<double>>> out;
  const json metrics = r.metrics.value("metrics", json::object());  // items() must not outlive it
  for (const auto& [k, v] : metrics.items())
    if (!v.is_structured()) out.emplace_back(k, v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt);
  return out;
}

// VQA: meters named <base>_<kind> for kind open/closed/mc, as a (kind -> base -> value) table.
std::map<std::string, std::map<std::string, double>> by_question_type(const Run& r) {
  std::map<std::string, std::map<std::string, double>> out;
  for (const auto& [k, v] : scalar_meters(r)) {
    if (!v || k.find('@') != std::string::npos) continue;
    for (const char* kind : {"open", "closed", "mc", "overall"}) {
      const std::string suffix = std::string("_") + kind;
      if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
        out[kind][k.substr(0, k.size() - suffix.size())] = *v;
    }
  }
  return out;
}

// VQA: meters named <meter>@<modality>.
std::map<std::string, std::map<std::string, double>> by_modality(const Run& r) {
  std::map<std::string, std::map<std::string, double>> out;  // modality -> meter -> value
  for (const auto& [k, v] : scalar_meters(r)) {
    const auto at = k.find('@');
    if (v && at != std::string::npos) out[k.substr(at + 1)][k.substr(0, at)] = *v;
  }
  return out;
}

std::string trace_text(const json& row) {
  json t = json::object();
  if (row.contains("trace")) t["trace"] = row["trace"];
  if (row.contains("agent")) t["agent"] = row["agent"];
  return t.empty() ? "" : t.dump(2);
}

// ---------------------------------------------------------------------------------------------
// HTML

const char* kCss =
    R"(body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1b1b1b}
h1{font-size:24px}h2{font-size:20px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #d6d6d6;padding:4px 8px;vertical-align:top}
th{background:#f3f5f8;text-align:left}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.best{font-weight:700;background:#eaf4ea}.ci{color:#666;font-size:12px;font-weight:400}
.meta th{width:140px}.figs{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.ex td.text{max-width:360px;word-break:break-word}img.thumb{max-width:96px;max-height:96px;border:1px solid #ccc}
pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:360px;font-size:12px}details{margin:6px 0}
.note{color:#555}.legend{color:#555;font-size:13px}nav ul{columns:2}
)";

std::string anchor_of(const Run& r) { return "run-" + r.anchor(); }

void html_leaderboard(std::ostringstream& os, const Leaderboard& lb) {
  os << "<h2 id=\"leaderboard-" << html_escape(lb.task) << "\">Leaderboard: " << html_escape(lb.task) << "</h2>\n";
  if (lb.columns.empty()) {
    os << "<p class=\"note\">No run of this task has a headline meter.</p>\n";
    return;
  }
  os << "<table class=\"leaderboard\" data-task=\"" << html_escape(lb.task)
     << "\"><thead><tr><th rowspan=\"2\">model · "
        "checkpoint · usage</th>";
  for (size_t j = 0; j < lb.columns.size();) {
    size_t span = 1;
    while (j + span < lb.columns.size() && lb.columns[j + span].dataset == lb.columns[j].dataset) ++span;
    os << "<th colspan=\"" << span << "\">" << html_escape(lb.columns[j].dataset) << "</th>";
    j += span;
  }
  os << "</tr><tr>";
  for (const auto& c : lb.columns) os << "<th>" << html_escape(c.meter.label) << "</th>";
  os << "</tr></thead><tbody>\n";
  for (size_t i = 0; i < lb.rows.size(); ++i) {
    os << "<tr><th>" << html_escape(lb.rows[i]) << "</th>";
    for (size_t j = 0; j < lb.columns.size(); ++j) {
      const Cell& c = lb.cells[i][j];
      if (!c.run) {
        os << "<td class=\"num\">—</td>";
        continue;
      }
      os << "<td class=\"num" << (c.best ? " best" : "") << "\" data-meter=\"" << html_escape(lb.columns[j].meter.key)
         << "\" data-dataset=\"" << html_escape(lb.columns[j].dataset) << "\" data-row=\"" << html_escape(lb.rows[i])
         << "\" data-run=\"" << html_escape(c.run->dir) << "\"";
      if (c.value) os << " data-value=\"" << exact(*c.value) << "\"";
      if (c.ci) os << " data-ci-low=\"" << exact((*c.ci)[0]) << "\" data-ci-high=\"" << exact((*c.ci)[1]) << "\"";
      os << "><a href=\"#" << html_escape(anchor_of(*c.run)) << "\">" << (c.value ? fixed(*c.value) : "n/a") << "</a>";
      if (c.ci) os << "<br/><span class=\"ci\">" << ci_text(c.ci) << "</span>";
      os << "</td>";
    }
    os << "</tr>\n";
  }
  os << "</tbody></table>\n<p class=\"legend\">Value with its 95% bootstrap confidence interval; bold: best in its "
        "column.</p>\n";
}

void html_examples(std::ostringstream& os, const RunDetail& d, const std::vector<Example>& ex, const std::string& what,
                   int thumb_px) {
  if (ex.empty()) return;
  os << "<h4>" << what << " samples</h4>\n<table class=\"ex\"><thead><tr><th>image</th><th>sample</th>"
     << (d.run->task == "vqa" ? "<th>question</th>" : "")
     << "<th>answer</th><th>prediction</th><th>score</th></tr></thead><tbody>\n";
  for (const auto& e : ex) {
    const json& row = d.rows[e.row];
    const auto [answer, pred] = answer_and_prediction(d, row);
    const std::string img = thumbnail(row.value("image_path", std::string()), thumb_px);
    os << "<tr><td>";
    if (!img.empty())
      os << "<img class=\"thumb\" alt=\"" << html_escape(row.value("id", std::string())) << "\" src=\"" << img
         << "\"/>";
    else
      os << "<span class=\"note\">(image not found)</span>";
    os << "</td><td class=\"text\">" << html_escape(row.value("id", std::string()), 120) << "</td>";
    if (d.run->task == "vqa")
      os << "<td class=\"text\">" << html_escape(text_of(row, "question"), 600) << "<br/><span class=\"ci\">"
         << html_escape(text_of(row, "question_type")) << "</span></td>";
    os << "<td class=\"text\">" << html_escape(answer, 600) << "</td><td class=\"text\">" << html_escape(pred, 600);
    const std::string trace = trace_text(row);
    if (!trace.empty())
      os << "<details><summary>agent trace</summary><pre>" << html_escape(trace, 20000) << "</pre></details>";
    os << "</td><td class=\"num\">" << html_escape(e.meter) << " " << fixed(e.value, 3) << "</td></tr>\n";
  }
  os << "</tbody></table>\n";
}

void html_run(std::ostringstream& os, const RunDetail& d, const ReportOptions& opts) {
  const Run& r = *d.run;
  os << "<section class=\"run\" id=\"" << html_escape(anchor_of(r)) << "\"><h3>" << html_escape(r.task) << " · "
     << html_escape(r.column_label()) << " · " << html_escape(r.row_label()) << "</h3>\n<table class=\"meta\">";
  for (const auto& [k, v] : metadata(r))
    os << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>";
  os << "</table>\n";
  if (r.kind == "eval" && r.metrics.contains("metrics")) {
    os << "<details open=\"open\"><summary>meters (" << scalar_meters(r).size() << ")</summary><table class=\"meters\">"
       << "<thead><tr><th>meter</th><th>value</th><th>95% CI</th></tr></thead><tbody>";
    for (const auto& [k, v] : scalar_meters(r)) {
      const auto ci = interval(r, k);
      os << "<tr><td>" << html_escape(k) << "</td><td class=\"num\" data-meter=\"" << html_escape(k) << "\" data-run=\""
         << html_escape(r.dir) << "\"";
      if (v) os << " data-value=\"" << exact(*v) << "\"";
      os << ">" << (v ? fixed(*v) : "n/a") << "</td><td class=\"num\">" << ci_text(ci) << "</td></tr>";
    }
    os << "</tbody></table></details>\n";
    for (const auto& n : r.metrics.value("notes", json::array()))
      if (n.is_string() && !n.get<std::string>().empty())
        os << "<p class=\"note\">note: " << html_escape(n.get<std::string>()) << "</p>\n";
  }
  const json metrics = r.metrics.value("metrics", json::object());
  const bool roc = metrics.contains("roc_curve") && metrics["roc_curve"].is_object();
  if (roc || !d.confusion.empty()) {
    os << "<div class=\"figs\">";
    if (roc) {
      const auto auc = number(metrics, "auc");
      os << "<figure>"
         << roc_svg(metrics["roc_curve"].value("fpr", std::vector<double>()),
                    metrics["roc_curve"].value("tpr", std::vector<double>()),
                    auc ? "AUROC " + fixed(*auc) : "AUROC n/a")
         << "<figcaption>ROC curve</figcaption></figure>";
    }
    if (!d.confusion.empty())
      os << "<figure>" << confusion_svg(d.confusion, d.classes) << "<figcaption>confusion matrix (rows: true class)"
         << "</figcaption></figure>";
    os << "</div>\n";
  }
  if (r.task == "vqa") {
    const auto types = by_question_type(r);
    if (!types.empty()) {
      // The readable columns (the n-gram orders and strict variants stay in the meters table above).
      static const std::vector<std::string> kColumns = {"accuracy", "recall",      "precision", "f1_score",
                                                        "f1",       "exact_match", "bleu1",     "rougeL",
                                                        "meteor",   "bertscore",   "gpt_score"};
      std::vector<std::string> bases;
      for (const auto& c : kColumns)
        for (const auto& [kind, m] : types)
          if (m.count(c) && std::find(bases.begin(), bases.end(), c) == bases.end()) bases.push_back(c);
      os << "<h4>By question type</h4><table class=\"qtypes\"><thead><tr><th>type</th><th>questions</th>";
      for (const auto& b : bases) os << "<th>" << html_escape(b) << "</th>";
      os << "</tr></thead><tbody>";
      const std::map<std::string, std::vector<std::string>> names = {
          {"open", {"open"}}, {"closed", {"closed", "yes/no"}}, {"mc", {"multi-choice", "mc"}}, {"overall", {}}};
      for (const auto& [kind, m] : types) {
        long count = 0;
        for (const auto& [t, c] : d.question_types) {
          const auto& ns = names.count(kind) ? names.at(kind) : std::vector<std::string>{};
          if (kind == "overall" || std::find(ns.begin(), ns.end(), t) != ns.end()) count += c;
        }
        os << "<tr><th>" << html_escape(kind) << "</th><td class=\"num\">" << count << "</td>";
        for (const auto& b : bases) {
          const auto it = m.find(b);
          if (it == m.end()) {
            os << "<td class=\"num\">—</td>";
          } else {
            os << "<td class=\"num\" data-meter=\"" << html_escape(b + "_" + kind) << "\" data-run=\""
               << html_escape(r.dir) << "\" data-value=\"" << exact(it->second) << "\">" << fixed(it->second)
               << "</td>";
          }
        }
        os << "</tr>";
      }
      os << "</tbody></table>\n";
    }
    const auto mods = by_modality(r);
    if (!mods.empty()) {
      std::set<std::string> ms;
      for (const auto& [mod, m] : mods)
        for (const auto& kv : m) ms.insert(kv.first);
      os << "<h4>By modality</h4><table class=\"modality\"><thead><tr><th>modality</th>";
      for (const auto& m : ms) os << "<th>" << html_escape(m) << "</th>";
      os << "</tr></thead><tbody>";
      for (const auto& [mod, m] : mods) {
        os << "<tr><th>" << html_escape(mod) << "</th>";
        for (const auto& name : ms) {
          const auto it = m.find(name);
          os << "<td class=\"num\">" << (it == m.end() ? std::string("—") : fixed(it->second)) << "</td>";
        }
        os << "</tr>";
      }
      os << "</tbody></table>\n";
    }
  }
  html_examples(os, d, d.best, "Best", opts.thumbnail_px);
  html_examples(os, d, d.worst, "Worst", opts.thumbnail_px);
  os << "<details><summary>config (run.json)</summary><pre>"
     << html_escape(r.manifest.value("config", json::object()).dump(2)) << "</pre></details>\n";
  if (r.manifest.contains("usage_stats"))
    os << "<details><summary>usage statistics</summary><pre>" << html_escape(r.manifest["usage_stats"].dump(2), 20000)
       << "</pre></details>\n";
  os << "</section>\n";
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string render_html(const std::string& root, const std::vector<Leaderboard>& lbs,
                        const std::vector<RunDetail>& details, const ReportOptions& opts) {
  std::ostringstream os;
  // Polyglot XHTML: valid HTML5 that is also well-formed XML, so tests (and scripts) can parse it.
  os << "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>" << html_escape(opts.title)
     << "</title><style>" << kCss << "</style></head><body>\n<h1>" << html_escape(opts.title)
     << "</h1>\n<p class=\"note\">" << details.size() << " runs under <code>" << html_escape(root)
     << "</code>; written " << now_utc() << " by medvlmbench " << MVB_VERSION << " (" << MVB_GIT_COMMIT
     << ").</p>\n<nav><ul>";
  for (const auto& lb : lbs)
    os << "<li><a href=\"#leaderboard-" << html_escape(lb.task) << "\">Leaderboard: " << html_escape(lb.task)
       << "</a></li>";
  for (const auto& d : details)
    os << "<li><a href=\"#" << html_escape(anchor_of(*d.run)) << "\">" << html_escape(d.run->task) << " · "
       << html_escape(d.run->column_label()) << " · " << html_escape(d.run->row_label()) << "</a></li>";
  os << "</ul></nav>\n";
  for (const auto& lb : lbs) html_leaderboard(os, lb);
  os << "<h2>Runs</h2>\n";
  for (const auto& d : details) html_run(os, d, opts);
  os << "</body></html>\n";
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Markdown

std::string render_md(const std::string& root, const std::vector<Leaderboard>& lbs,
                      const std::vector<RunDetail>& details, const ReportOptions& opts) {
  std::ostringstream os;
  os << "# " << md_escape(opts.title) << "\n\n"
     << details.size() << " runs under `" << root << "`; written " << now_utc() << " by medvlmbench " << MVB_VERSION
     << " (" << MVB_GIT_COMMIT << "). Figures (ROC curves, confusion matrices) and thumbnails are in report.html.\n\n";
  for (const auto& lb : lbs) {
    os << "## Leaderboard: " << md_escape(lb.task) << "\n\n";
    if (lb.columns.empty()) {
      os << "No run of this task has a headline meter.\n\n";
      continue;
    }
    os << "| model · checkpoint · usage |";
    for (const auto& c : lb.columns) os << " " << md_escape(c.dataset) << " " << md_escape(c.meter.label) << " |";
    os << "\n|---|";
    for (size_t j = 0; j < lb.columns.size(); ++j) os << "---:|";
    os << "\n";
    for (size_t i = 0; i < lb.rows.size(); ++i) {
      os << "| " << md_escape(lb.rows[i]) << " |";
      for (size_t j = 0; j < lb.columns.size(); ++j) {
        const Cell& c = lb.cells[i][j];
        if (!c.run) {
          os << " — |";
          continue;
        }
        const std::string v = c.value ? fixed(*c.value) : "n/a";
        os << " " << (c.best ? "**" + v + "**" : v) << (c.ci ? " " + ci_text(c.ci) : "") << " |";
      }
      os << "\n";
    }
    os << "\nValue [95% bootstrap CI]; bold: best in its column.\n\n";
  }
  os << "## Runs\n\n";
  for (const auto& d : details) {
    const Run& r = *d.run;
    os << "### " << md_escape(r.task) << " · " << md_escape(r.column_label()) << " · " << md_escape(r.row_label())
       << "\n\n| | |\n|---|---|\n";
    for (const auto& [k, v] : metadata(r)) os << "| " << md_escape(k) << " | " << md_escape(v, 400) << " |\n";
    if (r.kind == "eval" && r.metrics.contains("metrics")) {
      os << "\n| meter | value | 95% CI |\n|---|---:|---|\n";
      for (const auto& [k, v] : scalar_meters(r))
        os << "| " << md_escape(k) << " | " << (v ? fixed(*v) : "n/a") << " | " << ci_text(interval(r, k)) << " |\n";
    }
    if (!d.confusion.empty()) {
      os << "\nConfusion matrix (rows: true class, columns: predicted)\n\n| |";
      for (size_t j = 0; j < d.confusion.size(); ++j)
        os << " " << md_escape(j < d.classes.size() ? d.classes[j] : std::to_string(j), 60) << " |";
      os << "\n|---|";
      for (size_t j = 0; j < d.confusion.size(); ++j) os << "---:|";
      os << "\n";
      for (size_t i = 0; i < d.confusion.size(); ++i) {
        os << "| " << md_escape(i < d.classes.size() ? d.classes[i] : std::to_string(i), 60) << " |";
        for (long v : d.confusion[i]) os << " " << v << " |";
        os << "\n";
      }
    }
    for (const auto* set : {&d.best, &d.worst}) {
      if (set->empty()) continue;
      os << "\n"
         << (set == &d.best ? "Best" : "Worst") << " samples\n\n| sample |" << (r.task == "vqa" ? " question |" : "")
         << " answer | prediction | score |\n|---|" << (r.task == "vqa" ? "---|" : "") << "---|---|---:|\n";
      for (const auto& e : *set) {
        const json& row = d.rows[e.row];
        const auto [answer, pred] = answer_and_prediction(d, row);
        os << "| " << md_escape(row.value("id", std::string()), 120) << " |";
        if (r.task == "vqa") os << " " << md_escape(text_of(row, "question"), 300) << " |";
        os << " " << md_escape(answer, 300) << " | " << md_escape(pred, 300) << " | " << e.meter << " "
           << fixed(e.value, 3) << " |\n";
      }
    }
    os << "\n";
  }
  return os.str();
}

json report_json(const std::vector<Leaderboard>& lbs, const std::vector<RunDetail>& details) {
  json out = {{"leaderboards", json::array()}, {"runs", json::array()}};
  for (const auto& lb : lbs) {
    json t = {{"task", lb.task}, {"columns", json::array()}, {"rows", json::array()}};
    for (const auto& c : lb.columns) t["columns"].push_back({{"dataset", c.dataset}, {"meter", c.meter.key}});
    for (size_t i = 0; i < lb.rows.size(); ++i) {
      json row = {{"label", lb.rows[i]}, {"cells", json::array()}};
      for (const auto& c : lb.cells[i])
        row["cells"].push_back({{"run", c.run ? json(c.run->dir) : json(nullptr)},
                                {"value", c.value ? json(*c.value) : json(nullptr)},
                                {"ci95", c.ci ? json({(*c.ci)[0], (*c.ci)[1]}) : json(nullptr)},
                                {"best", c.best}});
      t["rows"].push_back(row);
    }
    out["leaderboards"].push_back(t);
  }
  for (const auto& d : details)
    out["runs"].push_back({{"dir", d.run->dir},
                           {"shards", d.run->shards},
                           {"kind", d.run->kind},
                           {"task", d.run->task},
                           {"dataset", d.run->dataset},
                           {"split", d.run->split},
                           {"model", d.run->model},
                           {"model_path", d.run->model_path},
                           {"usage", d.run->usage},
                           {"seed", d.run->seed},
                           {"metrics", d.run->metrics.value("metrics", json::object())},
                           {"ci95", d.run->metrics.value("ci95", json::object())}});
  return out;
}

}  // namespace

ReportFiles write_report(const std::string& exp_path, const ReportOptions& opts) {
  const std::vector<Run> runs = collect_runs(exp_path, opts.bootstrap);
  MVB_CHECK(!runs.empty(), "no run folder (holding ", "run.json", ") under ", exp_path,
            "; give the --exp_path or --output_dir your runs wrote to");
  std::vector<RunDetail> details;
  ReportFiles files;
  for (const auto& r : runs) {
    details.push_back(detail_of(r, opts.examples));
    (r.kind == "train" ? files.train_runs : files.eval_runs)++;
  }
  const auto lbs = leaderboards(runs);
  const std::string out = opts.out_dir.empty() ? exp_path : opts.out_dir;
  io::create_directories(out);
  files.html = io::join_path(out, "report.html");
  files.md = io::join_path(out, "report.md");
  files.json = io::join_path(out, "report.json");
  io::write_file_atomic(files.html, render_html(exp_path, lbs, details, opts));
  io::write_file_atomic(files.md, render_md(exp_path, lbs, details, opts));
  io::write_json_atomic(files.json, report_json(lbs, details));
  return files;
}

}  // namespace mvb::report
