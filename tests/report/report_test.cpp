// `medvlmbench report`, `compare` and `completion` on runs the real executable makes from the tiny
// fixtures: a contrastive model (zero-shot CLIP and SigLIP on the demo ChestXray folder, plus the same
// CLIP run split into two shards) and the tiny generative LLaVA (SLAKE VQA off the shelf and through
// MDAgent, MIMIC-CXR captions). Checked: every number of the leaderboards and meter tables, read back
// from report.md and (with Python's XML parser) from report.html, equals metrics.json; the SVGs parse
// as XML; merged shards score exactly as the unsharded run; compare's p-value equals the Python
// oracle's; report.html renders in headless Chromium without console errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "medvlmbench/report/compare.h"
#include "medvlmbench/report/format.h"
#include "support/test_support.h"

namespace mvb {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

test::CommandResult mvb_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args);
}

json read_json(const std::string& path) { return json::parse(test::read_text(path)); }

// The runs every test here reads, made once (about 10 s on two cores).
class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    root_ = *dir_ / "log";
    shards_root_ = *dir_ / "sharded";
    const std::string chest = test::fixture_path("demo/ChestXray");
    auto diag = [&](const std::string& model, const std::string& ckpt, const std::string& exp,
                    std::vector<std::string> extra = {}) {
      std::vector<std::string> a = {
          "eval",       "--task",    "diagnosis",   "--usage",      "clip-zs",
          "--dataset",  "ChestXray", "--split",     "test",         "--image_path",
          chest,        "--model",   model,         "--model_path", test::fixture_path("models/" + ckpt),
          "--exp_path", exp,         "--log_level", "warn",         "--device",
          "cpu"};
      a.insert(a.end(), extra.begin(), extra.end());
      const auto r = mvb_cmd(a);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    };
    auto gen = [&](const std::string& task, const std::string& dataset, std::vector<std::string> extra = {}) {
      std::vector<std::string> a = {"eval",
                                    "--task",
                                    task,
                                    "--dataset",
                                    dataset,
                                    "--split",
                                    "test",
                                    "--image_path",
                                    test::fixture_path("datasets/" + dataset),
                                    "--model",
                                    "LLaVA-1.5",
                                    "--model_path",
                                    test::fixture_path("models/llava/original"),
                                    "--exp_path",
                                    root_,
                                    "--max_new_tokens",
                                    "6",
                                    "--device",
                                    "cpu",
                                    "--log_level",
                                    "warn"};
      a.insert(a.end(), extra.begin(), extra.end());
      const auto r = mvb_cmd(a);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    };
    diag("CLIP", "tiny-clip", root_);
    diag("SigLIP", "tiny-siglip", root_);
    // Another prompt changes 2 of the 12 answers (accuracy 0.5 -> 0.33): a pair with a real difference.
    diag("CLIP", "tiny-clip", *dir_ / "prompt", {"--prompt_template", "an x-ray of {}"});
    diag("CLIP", "tiny-clip", shards_root_ + "/s0", {"--shard", "0/2"});
    diag("CLIP", "tiny-clip", shards_root_ + "/s1", {"--shard", "1/2"});
    gen("vqa", "SLAKE");
    gen("vqa", "SLAKE", {"--usage", "mdagent", "--mdagent_mode", "basic"});
    gen("caption", "MIMIC_CXR");
    // A train run: listed with its metadata, no leaderboard row.
    const auto t = mvb_cmd({"train", "--config", test::source_dir() + "/configs/demo_lp_train.yaml", "--image_path",
                            chest, "--model_path", test::fixture_path("models/tiny-clip"), "--output_dir", root_,
                            "--num_train_epochs", "2", "--log_level", "warn", "--device", "cpu"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string clip_run() { return root_ + "/diagnosis/ChestXray/CLIP/eval_seed0/tiny-clip/clip-zs"; }
  static std::string siglip_run() { return root_ + "/diagnosis/ChestXray/SigLIP/eval_seed0/tiny-siglip/clip-zs"; }
  static std::string prompt_run() { return *dir_ / "prompt/diagnosis/ChestXray/CLIP/eval_seed0/tiny-clip/clip-zs"; }
  static std::string vqa_run() { return root_ + "/vqa/SLAKE/LLaVA-1.5/eval_seed0/original"; }
  static std::string mdagent_run() { return vqa_run() + "/mdagent"; }

  static test::TempDir* dir_;
  static std::string root_, shards_root_;
};
test::TempDir* ReportTest::dir_ = nullptr;
std::string ReportTest::root_, ReportTest::shards_root_;

// The run folder of a leaderboard row label and dataset, from report.json (which the HTML cross-checks).
std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      continue;
    }
    if (line[i] == '|') {
      cells.push_back(cur);
      cur.clear();
      continue;
    }
    cur += line[i];
  }
  std::vector<std::string> out;
  for (size_t i = 1; i + 0 < cells.size(); ++i) {  // cells[0] is before the first '|'
    std::string c = cells[i];
    c.erase(0, c.find_first_not_of(' '));
    c.erase(c.find_last_not_of(' ') + 1);
    out.push_back(c);
  }
  return out;
}

TEST_F(ReportTest, MarkdownAndHtmlNumbersEqualMetricsJson) {
  const auto r = mvb_cmd({"report", root_, "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json files = json::parse(r.out);
  EXPECT_EQ(files["eval_runs"], 5);  // CLIP, SigLIP, VQA, VQA through MDAgent, captions
  EXPECT_EQ(files["train_runs"], 1);
  const json rep = read_json(files["json"]);

  // report.json's leaderboards hold, per cell, the run folder: its value and interval are metrics.json's.
  std::map<std::string, json> metrics_of;  // run dir -> metrics.json
  size_t checked = 0;
  for (const auto& lb : rep["leaderboards"])
    for (const auto& row : lb["rows"])
      for (size_t j = 0; j < row["cells"].size(); ++j) {
        const json& c = row["cells"][j];
        if (c["run"].is_null()) continue;
        const std::string meter = lb["columns"][j]["meter"];
        metrics_of[c["run"]] = read_json(c["run"].get<std::string>() + "/metrics.json");
        const json& m = metrics_of[c["run"]];
        EXPECT_EQ(c["value"], m["metrics"][meter]) << meter;
        EXPECT_EQ(c["ci95"], m["ci95"][meter]) << meter;
        ++checked;
      }
  EXPECT_GE(checked, 2u * 2 + 2u * 2 + 3u);  // diagnosis 2x2, vqa 2x2, caption >= 3 meters
  const std::set<std::string> tasks = {rep["leaderboards"][0]["task"], rep["leaderboards"][1]["task"],
                                       rep["leaderboards"][2]["task"]};
  EXPECT_EQ(tasks, (std::set<std::string>{"diagnosis", "vqa", "caption"}));

  // report.md: each leaderboard row, parsed back, gives the values (4 decimals) and intervals.
  std::ifstream md(files["md"].get<std::string>());
  std::string line, task;
  std::vector<std::string> header;
  size_t md_cells = 0, md_best = 0;
  std::map<std::pair<std::string, std::string>, std::string> run_of;  // (row label, dataset) -> run dir
  for (const auto& lb : rep["leaderboards"])
    for (const auto& row : lb["rows"])
      for (size_t j = 0; j < row["cells"].size(); ++j)
        if (!row["cells"][j]["run"].is_null())
          run_of[{row["label"], lb["columns"][j]["dataset"]}] = row["cells"][j]["run"];
  bool in_table = false;
  const std::regex cell_re(R"(^(\*\*)?([0-9.]+)(\*\*)? \[([0-9.]+), ([0-9.]+)\]$)");
  while (std::getline(md, line)) {
    if (line.rfind("## Leaderboard: ", 0) == 0) {
      task = line.substr(16);
      in_table = false;
      continue;
    }
    if (line.rfind("## Runs", 0) == 0) break;
    if (task.empty() || line.empty() || line[0] != '|') continue;
    const auto cells = split_cells(line);
    if (!in_table) {
      header = cells;
      in_table = true;
      continue;
    }
    if (cells[0].rfind("---", 0) == 0) continue;
    for (size_t j = 1; j < cells.size(); ++j) {
      // Header "DATASET LABEL": find the meter by its label among the task's columns.
      std::smatch mm;
      ASSERT_TRUE(std::regex_match(cells[j], mm, cell_re)) << cells[j];
      const std::string col = header[j];
      std::string meter, dataset;
      for (const auto& lb : rep["leaderboards"]) {
        if (lb["task"] != task) continue;
        for (const auto& c : lb["columns"]) {
          const std::string label = c["dataset"].get<std::string>() + " ";
          if (col.rfind(label, 0) == 0 &&
              (col.substr(label.size()) == "AUROC" || col.substr(label.size()) == "ACC" ||
               col.substr(label.size()) == "Closed ACC" || col.substr(label.size()) == "Open Recall" ||
               col.substr(label.size()) == "BLEU-4" || col.substr(label.size()) == "ROUGE-L" ||
               col.substr(label.size()) == "METEOR" || col.substr(label.size()) == "BERTScore")) {
            static const std::map<std::string, std::string> kKey = {{"AUROC", "auc"},
                                                                    {"ACC", "accuracy"},
                                                                    {"Closed ACC", "accuracy_closed"},
                                                                    {"Open Recall", "recall_open"},
                                                                    {"BLEU-4", "bleu4"},
                                                                    {"ROUGE-L", "rougeL_fmeasure"},
                                                                    {"METEOR", "meteor"},
                                                                    {"BERTScore", "bertscore"}};
            meter = kKey.at(col.substr(label.size()));
            dataset = c["dataset"];
          }
        }
      }
      ASSERT_FALSE(meter.empty()) << col;
      const json& m = read_json(run_of.at({cells[0], dataset}) + "/metrics.json");
      EXPECT_NEAR(std::stod(mm[2]), m["metrics"][meter].get<double>(), 5e-5) << cells[0] << " " << col;
      EXPECT_NEAR(std::stod(mm[4]), m["ci95"][meter][0].get<double>(), 5e-5) << cells[0] << " " << col;
      EXPECT_NEAR(std::stod(mm[5]), m["ci95"][meter][1].get<double>(), 5e-5) << cells[0] << " " << col;
      md_best += mm[1].matched;
      ++md_cells;
    }
  }
  EXPECT_EQ(md_cells, checked);
  // Two rows in the diagnosis and VQA tables: each column has a best (bold); lone caption values do not.
  EXPECT_GE(md_best, 4u);

  // report.html through xml.etree: every data-value is metrics.json's exact double, the text its
  // 4-decimal rendering; every SVG parses alone; no script, no external resource.
  const auto h = test::run_oracle_script(test::OracleInterpreter::kOracleEnv, "report/read_report_html.py",
                                         {files["html"].get<std::string>()});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  const json html = json::parse(h.out);
  EXPECT_EQ(html["scripts"], 0);
  EXPECT_EQ(html["other_src"], 0);
  EXPECT_TRUE(html["duplicate_ids"].empty()) << html["duplicate_ids"];
  EXPECT_TRUE(html["dangling_links"].empty()) << html["dangling_links"];
  EXPECT_GT(html["data_imgs"].get<int>(), 6);  // thumbnails of best and worst samples
  size_t html_cells = 0, leaderboard_cells = 0;
  for (const auto& c : html["cells"]) {
    ASSERT_FALSE(c["run"].is_null()) << c.dump();
    const json m = read_json(c["run"].get<std::string>() + "/metrics.json");
    const std::string meter = c["meter"];
    ASSERT_TRUE(m["metrics"].contains(meter)) << meter;
    EXPECT_EQ(c["value"].get<double>(), m["metrics"][meter].get<double>()) << meter;
    EXPECT_EQ(c["text"].get<std::string>(), report::fixed(m["metrics"][meter].get<double>())) << meter;
    if (!c["dataset"].is_null()) {
      ++leaderboard_cells;
      EXPECT_EQ(c["ci_low"].get<double>(), m["ci95"][meter][0].get<double>());
      EXPECT_EQ(c["ci_high"].get<double>(), m["ci95"][meter][1].get<double>());
    }
    ++html_cells;
  }
  EXPECT_EQ(leaderboard_cells, checked);
  EXPECT_GT(html_cells, 60u);  // plus every scalar meter of every run and the VQA question-type tables
  std::map<std::string, int> svg_kinds;
  for (const auto& s : html["svgs"]) {
    EXPECT_EQ(s["tag"], "{http://www.w3.org/2000/svg}svg");
    EXPECT_GT(s["elements"].get<int>(), 5);
    ++svg_kinds[s["class"]];
  }
  EXPECT_EQ(svg_kinds["roc"], 2);        // the two binary diagnosis runs
  EXPECT_EQ(svg_kinds["confusion"], 2);  // and their confusion matrices

  // The HTML and Markdown carry the rest of what a reader needs.
  const std::string text = test::read_text(files["html"]);
  // (8146cdbb4bd69f7c: the tiny CLIP checkpoint's fingerprint, shown beside its path.)
  for (const char* s : {"By question type", "Best samples", "Worst samples", "agent trace", "samples/s", "tokens",
                        "8146cdbb4bd69f7c", "confusion matrix", "ROC curve"})
    EXPECT_NE(text.find(s), std::string::npos) << s;
}

TEST_F(ReportTest, MergedShardsScoreAsTheWholeRun) {
  const auto r = mvb_cmd({"report", shards_root_, "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json rep = read_json(json::parse(r.out)["json"]);
  ASSERT_EQ(rep["runs"].size(), 1u);
  EXPECT_EQ(rep["runs"][0]["shards"].size(), 2u);
  // Interleaving the shards restores the dataset order, so even the bootstrap intervals are the same.
  const json whole = read_json(clip_run() + "/metrics.json");
  EXPECT_EQ(rep["runs"][0]["metrics"]["accuracy"], whole["metrics"]["accuracy"]);
  EXPECT_EQ(rep["runs"][0]["metrics"]["auc"], whole["metrics"]["auc"]);
  EXPECT_EQ(rep["runs"][0]["ci95"], whole["ci95"]);
}

TEST_F(ReportTest, ComparePValueEqualsThePythonOracle) {
  int different = 0;
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {clip_run(), siglip_run()}, {clip_run(), prompt_run()}, {prompt_run(), siglip_run()}}) {
    const auto r =
        mvb_cmd({"compare", a, b, "--metric", "accuracy", "--bootstrap", "2000", "--seed", "7", "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json c = json::parse(r.out);
    ASSERT_EQ(c["meters"].size(), 1u);
    const json& m = c["meters"][0];
    const auto o = test::run_oracle_script(test::OracleInterpreter::kOracleEnv, "report/paired_bootstrap_oracle.py",
                                           {"diagnosis", a, b, "2000", "7"});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    const json py = json::parse(o.out);
    EXPECT_EQ(m["n"], py["n"]);
    EXPECT_EQ(m["diff"].get<double>(), py["diff"].get<double>());
    EXPECT_EQ(m["p_value"].get<double>(), py["p_value"].get<double>());
    EXPECT_EQ(m["ci95_diff"][0].get<double>(), py["ci95"][0].get<double>());
    EXPECT_EQ(m["ci95_diff"][1].get<double>(), py["ci95"][1].get<double>());
    // Whole-run values are metrics.json's; the changed samples are those whose correctness differs.
    EXPECT_EQ(m["a"], read_json(a + "/metrics.json")["metrics"]["accuracy"]);
    const double mean_diff = m["diff"].get<double>() * m["n"].get<double>();
    int64_t net = 0;
    for (const auto& s : c["changed"]) net += s["b"].get<double>() > s["a"].get<double>() ? 1 : -1;
    EXPECT_NEAR(static_cast<double>(net), mean_diff, 1e-9);
    if (m["diff"].get<double>() != 0) {
      ++different;
      EXPECT_LT(m["p_value"].get<double>(), 1.0);
      EXPECT_GT(m["p_value"].get<double>(), 1.0 / 2001);
    }
  }
  EXPECT_EQ(different, 2);  // the p-values compared are not just the d == 0 case
}

TEST(PairedBootstrap, FractionalValuesEqualThePythonOracle) {
  // Per-sample values as VQA recall gives them (fractions), and a real difference: p, the difference
  // and its interval must be the oracle's to the last bit.
  std::vector<double> a, b;
  uint64_t s = 12345;
  for (int i = 0; i < 57; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    a.push_back(static_cast<double>((s >> 33) % 7) / 6.0);
    b.push_back(std::min(1.0, a.back() + static_cast<double>((s >> 20) % 5) / 12.0 - 0.1));
  }
  test::TempDir dir;
  test::write_text(dir / "values.json", json({{"a", a}, {"b", b}}).dump());
  for (const uint64_t seed : {0ULL, 3ULL, 4000000000ULL}) {
    const report::PairedBootstrap cpp = report::paired_bootstrap(a, b, 999, seed);
    const auto o = test::run_oracle_script(test::OracleInterpreter::kOracleEnv, "report/paired_bootstrap_oracle.py",
                                           {"values", dir / "values.json", "999", std::to_string(seed)});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    const json py = json::parse(o.out);
    EXPECT_EQ(cpp.diff, py["diff"].get<double>());
    EXPECT_EQ(cpp.mean_a, py["mean_a"].get<double>());
    EXPECT_EQ(cpp.p_value, py["p_value"].get<double>()) << seed;
    EXPECT_EQ(cpp.ci95[0], py["ci95"][0].get<double>());
    EXPECT_EQ(cpp.ci95[1], py["ci95"][1].get<double>());
    EXPECT_GT(cpp.p_value, 0.0);
    EXPECT_LT(cpp.p_value, 0.2);  // b is better by construction
  }
  // Identical runs: no difference, p = 1.
  EXPECT_EQ(report::paired_bootstrap(a, a, 100, 0).p_value, 1.0);
}

TEST_F(ReportTest, CompareFormatsAndErrors) {
  const auto text = mvb_cmd({"compare", vqa_run(), mdagent_run()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("accuracy_closed: A "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("p = "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("changed correctness:"), std::string::npos) << text.out;
  const auto md = mvb_cmd({"compare", vqa_run(), mdagent_run(), "--format", "markdown"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| meter | A | B | B − A |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| recall\\_open |"), std::string::npos) << md.out;  // Markdown-escaped
  // AUROC is no mean over samples: a usage error naming the meters that can be compared.
  const auto bad = mvb_cmd({"compare", clip_run(), siglip_run(), "--metric", "auc"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("choose one of: accuracy"), std::string::npos) << bad.err;
  const auto tasks = mvb_cmd({"compare", clip_run(), vqa_run()});
  EXPECT_EQ(tasks.exit_code, 2);
  EXPECT_NE(tasks.err.find("same task"), std::string::npos) << tasks.err;
  const auto missing = mvb_cmd({"report", root_ + "/nowhere"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("is not a folder"), std::string::npos) << missing.err;
}

// Chromium's console messages on stderr (--enable-logging=stderr) look like
// [..:INFO:CONSOLE:1] "message", source: file:///... (1)  (older releases: CONSOLE(1)).
std::vector<std::string> console_lines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string l; std::getline(in, l);)
    if (l.find(":CONSOLE") != std::string::npos) out.push_back(l);
  return out;
}

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p)) return p;
  return "";
}

test::CommandResult screenshot(const std::string& html, const std::string& png, const std::string& profile) {
  return test::run_command({"timeout", "120", chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                            "--user-data-dir=" + profile, "--screenshot=" + png, "--window-size=1280,2000",
                            "--enable-logging=stderr", "--v=0", "file://" + html});
}

TEST_F(ReportTest, HtmlRendersInHeadlessChromiumWithoutConsoleErrors) {
  if (chromium().empty())
    GTEST_SKIP() << "chromium is not installed; `apt-get install -y --no-install-recommends chromium` enables this "
                    "test (scripts/setup.sh installs it)";
  const auto r = mvb_cmd({"report", root_, "--out_dir", *dir_ / "html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = fs::absolute(*dir_ / "html/report.html").string();
  const auto shot = screenshot(html, *dir_ / "report.png", *dir_ / "profile1");
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  const std::string png = test::read_text(*dir_ / "report.png");
  ASSERT_GT(png.size(), 10000u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_TRUE(console_lines(shot.err).empty()) << shot.err;
  // The check can fail: a page that logs an error is caught.
  test::write_text(*dir_ / "bad.html", "<html><body><script>console.error('broken report')</script></body></html>");
  const auto bad = screenshot(fs::absolute(*dir_ / "bad.html").string(), *dir_ / "bad.png", *dir_ / "profile2");
  ASSERT_EQ(bad.exit_code, 0) << bad.err;
  ASSERT_EQ(console_lines(bad.err).size(), 1u) << bad.err;
  EXPECT_NE(console_lines(bad.err)[0].find("broken report"), std::string::npos);
}

TEST(ReportCli, EveryHelpEndsWithAnExample) {
  const auto top = mvb_cmd({"--help"});
  std::set<std::string> subs;
  const std::regex sub_re(R"(^  ([a-z]+) )");
  std::istringstream in(top.out);
  bool in_subs = false;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("Subcommands:", 0) == 0) in_subs = true;
    std::smatch m;
    if (in_subs && std::regex_search(l, m, sub_re)) subs.insert(m[1]);
  }
  EXPECT_GE(subs.size(), 10u) << top.out;
  for (const auto& s : subs) {
    const auto h = mvb_cmd({s, "--help"});
    EXPECT_EQ(h.exit_code, 0) << s;
    const auto ex = h.out.rfind("\nExample:\n");
    ASSERT_NE(ex, std::string::npos) << s << "\n" << h.out;
    // The example lines run this subcommand, and nothing but indented example lines follows them.
    std::istringstream tail(h.out.substr(ex + 10));
    std::string first;
    std::getline(tail, first);
    EXPECT_NE(first.find("medvlmbench " + s), std::string::npos) << s << ": " << first;
    for (std::string l; std::getline(tail, l);) EXPECT_TRUE(l.empty() || l.rfind("  ", 0) == 0) << s << ": " << l;
  }
}

TEST(ReportCli, BashCompletionCompletesSubcommandsFlagsAndValues) {
  test::TempDir dir;
  const auto script = mvb_cmd({"completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  test::write_text(dir / "c.bash", script.out);
  auto complete = [&](const std::string& words, int cword) {
    const auto r = test::run_command({"bash", "-c",
                                      "source " + (dir / "c.bash") + "; COMP_WORDS=(" + words + "); COMP_CWORD=" +
                                          std::to_string(cword) + "; _medvlmbench; echo \"${COMPREPLY[*]}\""});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  };
  EXPECT_EQ(complete("medvlmbench rep", 1), "report");
  EXPECT_EQ(complete("medvlmbench co", 1), "compare completion");
  EXPECT_EQ(complete("medvlmbench eval --mdagent", 2), "--mdagent_mode");
  EXPECT_EQ(complete("medvlmbench eval --task ''", 3), "caption diagnosis vqa");
  EXPECT_EQ(complete("medvlmbench eval --mdagent_mode ad", 3), "adaptive advanced");
  EXPECT_NE(complete("medvlmbench eval --model ''", 3).find("LLaVA-1.5"), std::string::npos);
  EXPECT_EQ(complete("medvlmbench compare --fo", 2), "--format");
  EXPECT_EQ(complete("medvlmbench compare --format ''", 3), "json markdown md text");
  // zsh: the script is generated from the same definition; checked for syntax where zsh exists.
  const auto zsh = mvb_cmd({"completion", "zsh"});
  ASSERT_EQ(zsh.exit_code, 0);
  EXPECT_NE(zsh.out.find("'--mdagent_mode[MDAgent mode]:mdagent_mode:(adaptive advanced basic intermediate)'"),
            std::string::npos);
  if (fs::exists("/usr/bin/zsh")) {
    test::write_text(dir / "_medvlmbench", zsh.out);
    EXPECT_EQ(test::run_command({"/usr/bin/zsh", "-n", dir / "_medvlmbench"}).exit_code, 0);
  }
  EXPECT_EQ(mvb_cmd({"completion", "fish"}).exit_code, 2);
}

}  // namespace
}  // namespace mvb

namespace mvb {
namespace {

// Every line of every preset list names presets that parse as `medvlmbench <command> --config`
// (unknown keys are usage errors) with a model, dataset and usage the registries know.
TEST(PaperPresets, EveryListedPresetParsesAndNamesKnownModelsDatasetsAndUsages) {
  const auto list = mvb_cmd({"list", "--format", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const json known = json::parse(list.out);
  std::set<std::string> models, datasets, usages = {""};
  for (const auto& m : known["models"]) models.insert(m["name"]);
  for (const auto& d : known["datasets"]) datasets.insert(d["name"]);
  for (const auto& u : known["usages"]) usages.insert(u["name"]);
  for (const auto& u : known["agents"]) usages.insert(u["name"]);
  const std::string root = test::source_dir();
  std::set<std::string> presets;
  size_t lines = 0;
  for (const auto& entry : fs::directory_iterator(root + "/configs/paper/lists")) {
    std::istringstream in(test::read_text(entry.path().string()));
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      ++lines;
      std::istringstream words(line);
      for (std::string cmd, preset, sep; words >> cmd >> preset; words >> sep) {
        EXPECT_TRUE(cmd == "eval" || cmd == "train") << line;
        ASSERT_TRUE(fs::exists(root + "/" + preset)) << preset;
        presets.insert(cmd + " " + preset);
      }
    }
  }
  EXPECT_GE(lines, 300u);
  // Every preset file is in some list.
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root + "/configs/paper"))
    files += e.path().extension() == ".yaml";
  EXPECT_EQ(files, presets.size());
  const std::regex key_re(R"(^(model|dataset|usage): (.*)$)");
  for (const auto& p : presets) {
    const std::string cmd = p.substr(0, p.find(' ')), path = root + "/" + p.substr(p.find(' ') + 1);
    std::istringstream in(test::read_text(path));
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (!std::regex_match(line, m, key_re)) continue;
      const auto& set = m[1] == "model" ? models : m[1] == "dataset" ? datasets : usages;
      EXPECT_TRUE(set.count(m[2])) << path << ": " << line;
    }
  }
  // Parsing is the expensive part (a process each): the README presets and one of each folder.
  std::set<std::string> folders;
  for (const auto& p : presets) {
    const std::string folder = fs::path(p.substr(p.find(' ') + 1)).parent_path().filename().string();
    if (folder != "readme" && !folders.insert(folder + p.substr(0, p.find(' '))).second) continue;
    const std::string cmd = p.substr(0, p.find(' ')), path = root + "/" + p.substr(p.find(' ') + 1);
    const auto r = mvb_cmd({cmd, "--config", path, "--help"});
    EXPECT_EQ(r.exit_code, 0) << path << "\n" << r.err;
  }
}

TEST(Sweep, RunsAListLocallyThenReportsAndPreparesASlurmArray) {
  test::TempDir dir;
  const std::string root = test::source_dir();
  // Two jobs on the bundled demo data: the README demo preset and the same through a second "&&" step.
  test::write_text(dir / "list.txt",
                   "# demo\neval configs/demo.yaml\neval configs/demo.yaml && eval configs/demo.yaml\n");
  const std::string log = dir / "log";
  const auto r =
      test::run_command({"bash", "-c",
                         "cd " + root + " && LOG_DIR=" + log + " MVB=" + test::exe_path() + " scripts/sweep.sh " +
                             (dir / "list.txt") + " -- --exp_path " + log + " --log_level warn --bootstrap 50"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("[2/2] eval configs/demo.yaml && eval configs/demo.yaml"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(log + "/report.html"));
  EXPECT_TRUE(fs::exists(log + "/diagnosis/ChestXray/CLIP/eval_seed0/tiny-clip/clip-zs/metrics.json"));
  // A failing job is listed and the exit code says so, after the report of what did run.
  test::write_text(dir / "bad.txt", "eval configs/demo.yaml\neval configs/does-not-exist.yaml\n");
  const auto bad =
      test::run_command({"bash", "-c",
                         "cd " + root + " && LOG_DIR=" + log + " MVB=" + test::exe_path() + " scripts/sweep.sh " +
                             (dir / "bad.txt") + " -- --exp_path " + log + " --log_level warn --bootstrap 50"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.err.find("1 of 2 jobs failed"), std::string::npos) << bad.err;
  // Slurm: one array task per line and a report job after it (printed, not submitted).
  const auto dry =
      test::run_command({"bash", "-c",
                         "cd " + root + " && MVB=" + test::exe_path() + " scripts/sweep.sh --slurm --dry-run " +
                             (dir / "list.txt") + " -- --device cuda"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("--array=0-1"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("--task-line"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("--dependency=afterany:"), std::string::npos) << dry.out;
  // What an array task runs: line 1 of the list.
  const auto task = test::run_command({"bash", "-c",
                                       "cd " + root + " && MVB=" + test::exe_path() +
                                           " scripts/sweep.sh --task-line 0 " + (dir / "list.txt") + " -- --exp_path " +
                                           (dir / "task") + " --log_level warn --bootstrap 0"});
  ASSERT_EQ(task.exit_code, 0) << task.err;
  EXPECT_TRUE(fs::exists(dir / "task/diagnosis/ChestXray/CLIP/eval_seed0/tiny-clip/clip-zs/metrics.json"));
}

}  // namespace
}  // namespace mvb
