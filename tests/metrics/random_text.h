// Random answer texts for the parity tests: medical words, number words, articles, contractions,
// punctuation-heavy tokens, numbers with commas and periods, non-ASCII words and whitespace, empties.
#pragma once

#include <random>
#include <string>
#include <vector>

namespace mvb::test {

inline const std::vector<std::string>& answer_vocabulary() {
  static const std::vector<std::string> v = {
      "yes",     "no",        "Yes",      "NO",      "not",         "the",     "a",          "an",       "The",
      "left",    "right",     "lung",     "lungs",   "heart",       "liver",   "kidney",     "brain",    "mass",
      "tumor",   "tumour",    "nodule",   "nodules", "effusion",    "pleural", "opacity",    "enlarged", "large",
      "big",     "normal",    "abnormal", "CT",      "MRI",         "x-ray",   "X-Ray",      "t1",       "one",
      "two",     "three",     "ten",      "none",    "zero",        "dont",    "isnt",       "thats",    "somebody'd",
      "1,000",   "3.5",       "2.",       "e.g.",    "i.e",         "...",     "(a)",        "[b]",      "**c**",
      "answer:", "Answer is", "option",   "(left)",  "right-",      "-right",  "a/b",        "and/or",   "50%",
      "#3",      "@home",     "x=1",      "a+b",     "under_score", "<tag>",   "\"quoted\"", "it's",     "can't",
      "it’s",    "ñandú",     "Straße",   "ÜBER",    "İstanbul",    "ΣΊΣΥΦΟΣ", "\u212a",     "٣,٤",      "٣.",
      "日本語",  "emoji😀",    "café.",    "naïve?",  "!",           "?",       ",",          ";",        ".",
      "-",       "_",         "``",       "{x}",     "\\",          "e",       "b",          "c",        "d"};
  return v;
}

inline const std::vector<std::string>& separators() {
  static const std::vector<std::string> s = {" ",  " ",      " ",      "  ", "\t",  "\n", ", ",
                                             ". ", "\u00a0", "\u3000", "",   " - ", "/",  "? "};
  return s;
}

inline std::string random_answer(std::mt19937& rng, int max_words = 10) {
  std::uniform_int_distribution<int> len(0, max_words);
  const auto& v = answer_vocabulary();
  const auto& s = separators();
  std::uniform_int_distribution<size_t> word(0, v.size() - 1), sep(0, s.size() - 1);
  std::string out;
  const int n = len(rng);
  for (int i = 0; i < n; ++i) {
    if (i) out += s[sep(rng)];
    out += v[word(rng)];
  }
  if (rng() % 7 == 0) out = " " + out + " ";
  return out;
}

}  // namespace mvb::test
