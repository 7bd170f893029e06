// Hand-worked cases for the reference's VQA rules (REFERENCE.md §3), one or more per quirk. Each
// expected value was worked out on paper from the definition, not produced by the code.
#include <gtest/gtest.h>

#include <cmath>

#include "medvlmbench/metrics/choice.h"
#include "medvlmbench/metrics/text_overlap.h"
#include "medvlmbench/metrics/vqa_text.h"

namespace mvb::metrics {
namespace {

struct NormCase {
  const char* in;
  const char* out;
  const char* why;
};

TEST(VqaCases, NormalizeWord) {
  const NormCase cases[] = {
      {"Yes", "yes", "lower-cased"},
      {"The left lung.", "left lung", "article dropped, final period deleted"},
      {"two", "2", "number word"},
      {"none", "0", "'none' is a number word (0)"},
      {"ten, one", "10 1", "number words; ', ' means the comma is deleted"},
      {"a cat, a dog", "cat dog", "comma next to a space: deleted; articles dropped"},
      {"left,right", "left right", "comma with no space next to it: replaced by a space"},
      {"1,000", "1000", "digit,digit: every punctuation mark is deleted"},
      {"2,3 and a, b", "23 and b", "digit,digit anywhere deletes all punctuation"},
      {"it is 2, not 3", "it is 2 not 3", "comma before a space is deleted"},
      {"3.5 cm", "3.5 cm", "a period followed by a digit stays"},
      {"v.5", "v.5", "period before a digit stays even after a letter"},
      {"e.g. the liver", "eg liver", "periods not followed by a digit are deleted"},
      {"a........................................", "a........",
       "only the first 32 periods are deleted (re.UNICODE passed as count)"},
      {"x-ray", "x ray", "hyphen without a space next to it becomes a space"},
      {"x-ray - chest", "xray chest", "' -' occurs, so every hyphen is deleted"},
      {"(left)", "left", "brackets replaced by spaces"},
      {"yes (left)", "yes left", "' (' occurs: '(' deleted; ')' has no space next to it: replaced"},
      {"what?!", "what", "? and ! replaced by spaces"},
      {"hi ! there", "hi there", "' !' occurs: deleted"},
      {"a/b", "b", "slash becomes a space, then the article a is dropped"},
      {"under_score", "under score", "underscore is punctuation"},
      {"x=1+2", "x 1 2", "= and + are punctuation"},
      {"it's", "it's", "the apostrophe is not punctuation"},
      {"dont", "don't", "contraction table"},
      {"hes", "he's", "contraction table"},
      {"Im", "im", "the table's key 'Im' has a capital and can never match"},
      {"somebody'd", "somebodyd", "the table maps somebody'd to somebodyd (sic)"},
      {"an apple", "apple", "article an"},
      {"THE", "", "only an article: empty"},
      {"", "", "empty"},
      {"Straße.", "straße", "non-ASCII letters kept"},
      {"ΣΊΣΥΦΟΣ", "σίσυφος", "Python's lower(): final sigma"},
      {"yes\u00a0no", "yes no", "NO-BREAK SPACE is whitespace for str.split()"},
      {"\u0663,\u0664", "\u0663\u0664", "Arabic-Indic digits are \\d: digit,digit"},
      {"\u00a9 , x", "\u00a9 x", "', ' deletes the comma; other symbols stay"},
  };
  for (const auto& c : cases) EXPECT_EQ(normalize_word(c.in), c.out) << c.in << " -- " << c.why;
}

TEST(VqaCases, ExactMatchIsAPrecisionLikeRatio) {
  EXPECT_DOUBLE_EQ(exact_match_ratio("yes", "yes"), 1.0);
  EXPECT_DOUBLE_EQ(exact_match_ratio("yes yes", "yes"), 0.5);     // repeated candidate words count
  EXPECT_DOUBLE_EQ(exact_match_ratio("left lung", "lung"), 0.5);  // extra words lower it
  EXPECT_DOUBLE_EQ(exact_match_ratio("lung", "left lung"), 1.0);  // a partial answer scores 1
  EXPECT_DOUBLE_EQ(exact_match_ratio("lung", "lung lung"), 1.0);  // distinct reference words
  EXPECT_DOUBLE_EQ(exact_match_ratio("", "yes"), 0.0);            // empty candidate
  EXPECT_DOUBLE_EQ(exact_match_ratio("the", "the"), 0.0);         // both normalise to ""
  EXPECT_DOUBLE_EQ(exact_match_ratio("two", "2"), 1.0);           // number words
  EXPECT_DOUBLE_EQ(exact_match_ratio("No.", "no"), 1.0);
  EXPECT_DOUBLE_EQ(exact_match_strict("No.", "no"), 1.0);
  EXPECT_DOUBLE_EQ(exact_match_strict("lung", "left lung"), 0.0);
  EXPECT_DOUBLE_EQ(exact_match_strict("The left lung", "left lung"), 1.0);
}

TEST(VqaCases, F1PrecisionRecallOverWordCounts) {
  auto expect = [](const char* c, const char* r, double f, double p, double rc) {
    const auto s = f1_precision_recall(c, r);
    EXPECT_NEAR(s.f1, f, 1e-12) << c << " | " << r;
    EXPECT_NEAR(s.precision, p, 1e-12) << c << " | " << r;
    EXPECT_NEAR(s.recall, rc, 1e-12) << c << " | " << r;
  };
  expect("left lung", "left lung", 1, 1, 1);
  expect("left lung", "lung", 2.0 / 3, 0.5, 1);
  expect("lung lung", "lung", 1, 1, 1);  // tp adds the candidate count (2); fn only counts unshared words
  expect("lung", "lung lung", 1, 1, 1);  // a shared word never adds to fn
  expect("heart", "lung", 0, 0, 0);      // tp == 0
  expect("", "lung", 0, 0, 0);           // empty candidate
  expect("lung", "", 0, 0, 0);           // empty reference
  expect("w x y z", "x y z q", 0.75, 0.75, 0.75);
  expect("x", "x y z q", 0.4, 1, 0.25);
  expect("The two nodules", "2 nodules", 1, 1, 1);  // normalisation on both sides
}

TEST(VqaCases, OpenAccuracyIsRecallAtLeastThreeQuarters) {
  EXPECT_EQ(open_accuracy(f1_precision_recall("w x y z", "x y z q").recall), 1.0);
  EXPECT_EQ(open_accuracy(0.75), 1.0);
  EXPECT_EQ(open_accuracy(0.7499999), 0.0);
  EXPECT_EQ(open_accuracy(f1_precision_recall("x", "x y").recall), 0.0);
}

TEST(VqaCases, ClosedAccuracySubstringRuleAndStrictVariant) {
  EXPECT_EQ(closed_accuracy_substring("no", "no"), 1.0);
  EXPECT_EQ(closed_accuracy_substring("not sure", "no"), 1.0);      // quirk: "no" inside "not"
  EXPECT_EQ(closed_accuracy_substring("i don't know", "no"), 1.0);  // quirk: inside "know"
  EXPECT_EQ(closed_accuracy_substring("yes", "no"), 0.0);
  EXPECT_EQ(closed_accuracy_substring("Yes, it is.", "YES"), 1.0);  // lower-cased both
  EXPECT_EQ(closed_accuracy_substring("anything", ""), 1.0);        // quirk: empty answer
  EXPECT_EQ(closed_accuracy_strict("not sure", "no"), 0.0);
  EXPECT_EQ(closed_accuracy_strict("i don't know", "no"), 0.0);
  EXPECT_EQ(closed_accuracy_strict("No, it is not.", "no"), 1.0);
  EXPECT_EQ(closed_accuracy_strict("yes and no", "yes"), 0.0);  // hedged: both words
  EXPECT_EQ(closed_accuracy_strict("Yes.", "yes"), 1.0);
  EXPECT_EQ(closed_accuracy_strict("the left kidney", "left kidney"), 1.0);
  EXPECT_EQ(closed_accuracy_strict("kidney left", "left kidney"), 0.0);
  EXPECT_EQ(closed_accuracy_strict("anything", ""), 0.0);
}

TEST(VqaCases, RougeWithTorchmetricsNormaliser) {
  EXPECT_EQ(rouge_tokens("X-Ray, 2.5cm"), (std::vector<std::string>{"x", "ray", "2", "5cm"}));
  EXPECT_EQ(rouge_tokens("Straße"), (std::vector<std::string>{"stra", "e"}));  // non-ASCII splits words
  EXPECT_TRUE(rouge_tokens("¿¡ ").empty());
  const auto l = rouge_l(rouge_tokens("the cat sat on the mat"), rouge_tokens("the cat on the mat"));
  EXPECT_NEAR(l.precision, 5.0 / 6, 1e-12);
  EXPECT_NEAR(l.recall, 1.0, 1e-12);
  EXPECT_NEAR(l.fmeasure, 10.0 / 11, 1e-12);
  const auto l2 = rouge_l(rouge_tokens("c b a"), rouge_tokens("a b c"));  // LCS 1
  EXPECT_NEAR(l2.fmeasure, 1.0 / 3, 1e-12);
  EXPECT_NEAR(rouge_n(rouge_tokens("a b c"), rouge_tokens("a b d"), 2).fmeasure, 0.5, 1e-12);
  const auto r1 = rouge_n(rouge_tokens("a a a"), rouge_tokens("a"), 1);  // clipped hits
  EXPECT_NEAR(r1.precision, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r1.fmeasure, 0.5, 1e-12);
  EXPECT_EQ(rouge_l({}, rouge_tokens("a")).fmeasure, 0.0);
  EXPECT_EQ(rouge_n(rouge_tokens("a"), rouge_tokens("a b"), 2).fmeasure, 0.0);  // no bigram in pred
}

TEST(VqaCases, BleuTorchmetricsDefaults) {
  const std::vector<std::string> abcd = {"a", "b", "c", "d"};
  for (int n = 1; n <= 4; ++n) EXPECT_NEAR(bleu(abcd, abcd, n), 1.0, 1e-12);
  EXPECT_NEAR(bleu({"a", "b"}, abcd, 1), std::exp(-1.0), 1e-12);  // brevity penalty exp(1 - 4/2)
  EXPECT_NEAR(bleu({"a", "b"}, abcd, 2), std::exp(-1.0), 1e-12);
  EXPECT_EQ(bleu({"a", "b"}, abcd, 3), 0.0);  // no trigram: no smoothing, 0
  EXPECT_NEAR(bleu({"a", "b", "c", "d", "e"}, abcd, 1), 0.8, 1e-12);
  EXPECT_NEAR(bleu({"a", "a", "a"}, {"a", "b", "c"}, 1), 1.0 / 3, 1e-12);  // clipped counts
  EXPECT_EQ(bleu({}, abcd, 1), 0.0);
  EXPECT_EQ(bleu(abcd, {}, 1), 0.0);
}

TEST(VqaCases, MultipleChoiceExtractionRulesInOrder) {
  const std::vector<std::string> abcd = {"A", "B", "C", "D"};
  struct Case {
    const char* response;
    const char* expect;  // "" = none
    const char* why;
  };
  const Case cases[] = {
      {"the answer is (b)", "B", "cue words"},
      {"final answer: (c)", "C", "cue words with colon and bracket"},
      {"answer: the lesion is c", "C", "cue hit 't' is not an option; rules 2-3 miss; first bare letter c"},
      {"i choose (c) not (a)", "C", "first bracketed letter"},
      {"**d**", "D", "bold"},
      {"** d **", "D", "bold with spaces"},
      {"e", "", "not an option"},
      {"a large mass", "A", "the article 'a' is a bare letter (quirk)"},
      {"transplant b", "B", "'ans' inside transplant hits 'p' first; then bare letter b"},
      {"option b is wrong, the answer is c", "B", "the first cue wins (quirk)"},
      {"", "", "empty"},
      {"   \n ", "", "whitespace only"},
      {"i think it's b", "", "rule 4 only looks at its first hit, the word 'i' (quirk)"},
      {"it's b", "", "the 's' after the apostrophe is the first bare letter (quirk)"},
      {"the correct answer is d", "D", "'answer is' inside the phrase"},
      {"[a]", "A", "square brackets"},
      {"choice-b", "B", "cue with hyphen"},
      {"ANSWER IS B", "B", "cue words are case-blind"},
      {"(B) pneumonia", "B", "upper-case letter in brackets"},
  };
  for (const auto& c : cases) {
    const auto got = extract_choice_letter(c.response, abcd);
    EXPECT_EQ(got ? std::string(1, *got) : std::string(), c.expect) << c.response << " -- " << c.why;
  }
  EXPECT_FALSE(extract_choice_letter("(a)", {}));
  EXPECT_EQ(*extract_choice_letter("(a)", {"AB"}), 'A');  // option keys are split into characters
  EXPECT_EQ(mc_accuracy("(b)", "B", abcd), 1.0);
  EXPECT_EQ(mc_accuracy("(b)", "b", abcd), 1.0);
  EXPECT_EQ(mc_accuracy("(c)", "b", abcd), 0.0);
  EXPECT_EQ(mc_accuracy("no idea", "b", abcd), 0.0);
}

}  // namespace
}  // namespace mvb::metrics
