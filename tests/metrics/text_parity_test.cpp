// Parity of the VQA/caption text scores with independent references run as subprocesses:
// nltk 3.8 (BLEU, METEOR + WordNet, Porter), and Python's str/re semantics for the reference's
// normalisation, F1, exact_match, closed accuracy, torchmetrics' ROUGE and the multi-choice rules
// (tests/metrics/oracles/text_oracle.py). Inputs are randomised over many seeds.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "medvlmbench/metrics/choice.h"
#include "medvlmbench/metrics/meteor.h"
#include "medvlmbench/metrics/porter.h"
#include "medvlmbench/metrics/pytext.h"
#include "medvlmbench/metrics/text_overlap.h"
#include "medvlmbench/metrics/vqa_text.h"
#include "medvlmbench/metrics/wordnet.h"
#include "metrics_oracle_support.h"
#include "random_text.h"

namespace mvb::metrics {
namespace {

using nlohmann::json;
using test::random_answer;

TEST(TextParity, NormalisationF1ExactMatchAndClosedAccuracyMatchPython) {
  MVB_REQUIRE_PYTHON();
  json in = {{"normalize", json::array()}, {"pairs", json::array()}};
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int seed = 0; seed < 40; ++seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 50; ++i) {
      const std::string a = random_answer(rng), b = random_answer(rng, 4);
      in["normalize"].push_back(a);
      pairs.emplace_back(py_lower(a), py_lower(b));
      in["pairs"].push_back({pairs.back().first, pairs.back().second});
    }
  }
  const json out = test::run_oracle("text_oracle.py", in);
  ASSERT_EQ(out["normalize"].size(), in["normalize"].size());
  for (size_t i = 0; i < in["normalize"].size(); ++i)
    EXPECT_EQ(normalize_word(in["normalize"][i].get<std::string>()), out["normalize"][i].get<std::string>())
        << "input: " << in["normalize"][i].dump();
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& [c, r] = pairs[i];
    const auto s = f1_precision_recall(c, r);
    const auto& o = out["pairs"][i];
    EXPECT_NEAR(s.f1, o["prf"][0].get<double>(), 1e-12) << c << " | " << r;
    EXPECT_NEAR(s.precision, o["prf"][1].get<double>(), 1e-12) << c << " | " << r;
    EXPECT_NEAR(s.recall, o["prf"][2].get<double>(), 1e-12) << c << " | " << r;
    EXPECT_NEAR(exact_match_ratio(c, r), o["exact"].get<double>(), 1e-12) << c << " | " << r;
    const auto both = word_overlap_normalized(normalize_word(c), normalize_word(r));
    EXPECT_NEAR(both.exact_match, o["exact"].get<double>(), 1e-12) << c << " | " << r;
    EXPECT_NEAR(both.prf.f1, o["prf"][0].get<double>(), 1e-12) << c << " | " << r;
    EXPECT_NEAR(both.prf.recall, o["prf"][2].get<double>(), 1e-12) << c << " | " << r;
    EXPECT_EQ(closed_accuracy_substring(c, r), o["closed"].get<double>()) << c << " | " << r;
  }
}

TEST(TextParity, RougeMatchesTorchmetricsDefinition) {
  MVB_REQUIRE_PYTHON();
  json in = {{"rouge", json::array()}};
  for (int seed = 100; seed < 130; ++seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 40; ++i) {
      const std::string ref = random_answer(rng, 12);
      // Half the candidates are edits of the reference, so that 2-grams and long LCS occur.
      std::string cand = rng() % 2 ? random_answer(rng, 12) : ref + " " + random_answer(rng, 3);
      in["rouge"].push_back({normalize_word(cand), normalize_word(ref)});
    }
  }
  const json out = test::run_oracle("text_oracle.py", in);
  for (size_t i = 0; i < in["rouge"].size(); ++i) {
    const std::string p = in["rouge"][i][0], t = in["rouge"][i][1];
    const auto pt = rouge_tokens(p), tt = rouge_tokens(t);
    EXPECT_EQ(json(pt), out["rouge"][i]["tokens"]) << p;
    const RougeScore got[3] = {rouge_n(pt, tt, 1), rouge_n(pt, tt, 2), rouge_l(pt, tt)};
    const char* keys[3] = {"r1", "r2", "rl"};
    for (int k = 0; k < 3; ++k) {
      const auto& o = out["rouge"][i][keys[k]];
      EXPECT_NEAR(got[k].precision, o[0].get<double>(), 1e-12) << keys[k] << ": " << p << " | " << t;
      EXPECT_NEAR(got[k].recall, o[1].get<double>(), 1e-12) << keys[k] << ": " << p << " | " << t;
      EXPECT_NEAR(got[k].fmeasure, o[2].get<double>(), 1e-12) << keys[k] << ": " << p << " | " << t;
    }
  }
}

TEST(TextParity, BleuMatchesNltkWithTorchmetricsDefaults) {
  MVB_REQUIRE_PYTHON();
  json in = {{"bleu", json::array()}};
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases;
  for (int seed = 200; seed < 240; ++seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 25; ++i) {
      auto ref = py_split(normalize_word(random_answer(rng, 14)));
      std::vector<std::string> cand = ref;
      // Mutate: drop, replace or insert words (or take an unrelated answer).
      const int mode = static_cast<int>(rng() % 4);
      if (mode == 0) cand = py_split(normalize_word(random_answer(rng, 14)));
      for (int e = 0; e < static_cast<int>(rng() % 4) && !cand.empty(); ++e) {
        const size_t at = rng() % cand.size();
        if (mode == 1)
          cand.erase(cand.begin() + static_cast<long>(at));
        else if (mode == 2)
          cand[at] = "lung";
        else
          cand.insert(cand.begin() + static_cast<long>(at), "the");
      }
      cases.emplace_back(cand, ref);
      in["bleu"].push_back(json::array({json(cand), json(ref)}));
    }
  }
  const json out = test::run_oracle("text_oracle.py", in);
  int nonzero4 = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto all = bleu_1_to_4(cases[i].first, cases[i].second);
    for (int n = 1; n <= 4; ++n) {
      const double got = bleu(cases[i].first, cases[i].second, n);
      EXPECT_NEAR(all[static_cast<size_t>(n - 1)], got, 1e-15);
      EXPECT_NEAR(got, out["bleu"][i][n - 1].get<double>(), 1e-6)
          << "n=" << n << " cand=" << json(cases[i].first) << " ref=" << json(cases[i].second);
      nonzero4 += n == 4 && got > 0;
    }
  }
  EXPECT_GT(nonzero4, 50) << "the generated cases should exercise BLEU-4";
}

std::vector<std::string> meteor_words() {
  return {"lung",    "lungs",    "heart",   "cardiac",  "big",    "large",    "enlarged", "left",     "right",
          "normal",  "abnormal", "mass",    "tumor",    "tumour", "nodule",   "opacity",  "effusion", "pleural",
          "running", "ran",      "better",  "good",     "geese",  "children", "studies",  "mice",     "is",
          "are",     "was",      "ct",      "mri",      "the",    "a",        "of",       "in",       "showing",
          "shows",   "seen",     "visible", "small",    "little", "kidney",   "kidneys",  "liver",    "hepatic",
          "chest",   "thorax",   "bone",    "fracture", "broken", "Right",    "LEFT",     "sick",     "ill"};
}

TEST(TextParity, MeteorMatchesNltkWithWordNet) {
  MVB_REQUIRE_PYTHON();
  const WordNet& wn = WordNet::shared();
  const auto words = meteor_words();
  json in = {{"meteor", json::array()}};
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases;
  for (int seed = 300; seed < 330; ++seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 20; ++i) {
      auto pick = [&](int n) {
        std::vector<std::string> v;
        for (int k = 0; k < n; ++k) v.push_back(words[rng() % words.size()]);
        return v;
      };
      std::vector<std::string> ref = pick(static_cast<int>(rng() % 9));
      std::vector<std::string> hyp = rng() % 3 ? pick(static_cast<int>(rng() % 9)) : ref;
      if (!hyp.empty() && rng() % 2) std::swap(hyp[0], hyp[hyp.size() - 1]);
      cases.emplace_back(ref, hyp);
      in["meteor"].push_back(json::array({json(ref), json(hyp)}));
    }
  }
  const json out = test::run_oracle("text_oracle.py", in);
  ASSERT_TRUE(out.contains("meteor"));
  int positive = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const double got = meteor({cases[i].first}, cases[i].second, &wn);
    EXPECT_NEAR(got, out["meteor"][i].get<double>(), 1e-9)
        << "ref=" << json(cases[i].first) << " hyp=" << json(cases[i].second);
    positive += got > 0;
    std::string r, h;
    for (const auto& w : cases[i].first) r += (r.empty() ? "" : " ") + w;
    for (const auto& w : cases[i].second) h += (h.empty() ? "" : " ") + w;
    EXPECT_NEAR(meteor_single({r}, {h}, &wn), out["meteor_whole"][i].get<double>(), 1e-9) << r << " | " << h;
  }
  EXPECT_GT(positive, 100);
}

// Every 23rd lemma of WordNet's indexes (single words only) plus suffix-heavy forms.
std::vector<std::string> stemmer_words() {
  std::vector<std::string> out = {
      "caresses",    "ponies",         "ties",        "cats",        "feed",       "agreed",       "plastered",
      "motoring",    "sing",           "conflated",   "troubled",    "sized",      "hopping",      "tanned",
      "falling",     "hissing",        "fizzed",      "failing",     "filing",     "happy",        "sky",
      "skies",       "dying",          "lying",       "news",        "innings",    "relational",   "conditional",
      "valenci",     "hesitanci",      "digitizer",   "conformabli", "radicalli",  "differentli",  "vileli",
      "analogousli", "vietnamization", "predication", "operator",    "feudalism",  "decisiveness", "hopefulness",
      "callousness", "formaliti",      "sensitiviti", "sensibiliti", "triplicate", "formative",    "formalize",
      "electriciti", "electrical",     "hopeful",     "goodness",    "revival",    "allowance",    "inference",
      "airliner",    "gyroscopic",     "adjustable",  "defensible",  "irritant",   "replacement",  "adjustment",
      "dependent",   "adoption",       "homologou",   "communism",   "activate",   "angulariti",   "homologous",
      "effective",   "bowdlerize",     "probate",     "rate",        "cease",      "controll",     "roll",
      "generalli",   "fulli",          "archaeologi", "a",           "is",         "ies",          "ied",
      "spied",       "died",           "x*d",         "Running",     "ÜBERING",    "naïveties",    "y",
      "yy",          "syzygy",         "enlarged",    "effusions",   "opacities",  "lungs"};
  for (const char* pos : {"noun", "verb", "adj", "adv"}) {
    std::ifstream f(WordNet::default_dir() + "/index." + pos);
    std::string line;
    for (int i = 0; std::getline(f, line); ++i) {
      if (line.empty() || line[0] == ' ' || i % 23) continue;
      const std::string w = line.substr(0, line.find(' '));
      if (w.find('_') == std::string::npos) out.push_back(w);
    }
  }
  return out;
}

TEST(TextParity, PorterStemmerMatchesNltk) {
  MVB_REQUIRE_PYTHON();
  const auto words = stemmer_words();
  ASSERT_GT(words.size(), 3000u);
  const json out = test::run_oracle("text_oracle.py", {{"porter", words}});
  ASSERT_EQ(out["porter"].size(), words.size());
  for (size_t i = 0; i < words.size(); ++i)
    EXPECT_EQ(porter_stem(words[i]), out["porter"][i].get<std::string>()) << words[i];
}

TEST(TextParity, WordNetSynonymsMatchNltk) {
  MVB_REQUIRE_PYTHON();
  std::vector<std::string> words = meteor_words();
  for (const char* w : {"geese",   "went", "better", "best",  "ran",  "women", "boxes", "churches", "leaves", "axes",
                        "Running", "dogs", "dying",  "abaci", "oxen", "xyzzy", "",      "ct",       "good",   "well"})
    words.push_back(w);
  const auto stems = stemmer_words();
  for (size_t i = 0; i < stems.size(); i += 11) words.push_back(stems[i]);
  const json out = test::run_oracle("text_oracle.py", {{"synonyms", words}});
  const WordNet& wn = WordNet::shared();
  for (size_t i = 0; i < words.size(); ++i) EXPECT_EQ(json(wn.synonyms(words[i])), out["synonyms"][i]) << words[i];
}

TEST(TextParity, ChoiceExtractionMatchesPythonRe) {
  MVB_REQUIRE_PYTHON();
  const std::vector<std::string> templates = {"the answer is (%)",
                                              "answer: %",
                                              "final answer - [%]",
                                              "**%**",
                                              "i think % is right",
                                              "option % ",
                                              "choice:%",
                                              "(%) because",
                                              "the correct answer is %.",
                                              "ans %",
                                              "% ",
                                              "it is %",
                                              "[ % ]",
                                              "** % **"};
  const std::vector<std::string> letters = {"a", "b", "c", "d", "e", "f", "x", "A", "B", "ı", "ſ"};
  json in = {{"choice", json::array()}};
  std::vector<std::pair<std::string, std::vector<std::string>>> cases;
  for (int seed = 400; seed < 430; ++seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 40; ++i) {
      std::string t = templates[rng() % templates.size()];
      t.replace(t.find('%'), 1, letters[rng() % letters.size()]);
      std::string response;
      const int mode = static_cast<int>(rng() % 4);
      if (mode == 0)
        response = t;
      else if (mode == 1)
        response = random_answer(rng, 5) + " " + t;
      else if (mode == 2)
        response = t + " " + random_answer(rng, 5);
      else
        response = random_answer(rng, 8);
      response = py_lower(response);
      std::vector<std::string> choices;
      for (const char* c : {"A", "B", "C", "D", "E"})
        if (rng() % 4) choices.push_back(c);
      cases.emplace_back(response, choices);
      in["choice"].push_back(json::array({json(response), json(choices)}));
    }
  }
  const json out = test::run_oracle("text_oracle.py", in);
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto got = extract_choice_letter(cases[i].first, cases[i].second);
    const json expect = out["choice"][i];
    EXPECT_EQ(got ? json(std::string(1, *got)) : json(nullptr), expect)
        << "response=" << json(cases[i].first) << " choices=" << json(cases[i].second);
  }
}

}  // namespace
}  // namespace mvb::metrics
