// A port of nltk/stem/porter.py (NLTK_EXTENSIONS mode). The rule tables and their order are the
// algorithm; the NLTK extensions (irregular forms, "ies"/"ied" on 4-letter words, the 2-letter cvc
// case, "alli", "fulli", "logi") are marked where they apply.
#include "medvlmbench/metrics/porter.h"

#include <unordered_map>
#include <vector>

#include "medvlmbench/metrics/pytext.h"

namespace mvb::metrics {
namespace {

using U = std::u32string;

bool ends_with(const U& w, const U& suffix) {
  return w.size() >= suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_vowel(char32_t c) { return c == U'a' || c == U'e' || c == U'i' || c == U'o' || c == U'u'; }

bool is_consonant(const U& w, size_t i) {
  if (is_vowel(w[i])) return false;
  if (w[i] == U'y') return i == 0 ? true : !is_consonant(w, i - 1);
  return true;
}

int measure(const U& stem) {
  int m = 0;
  bool prev_v = false;
  for (size_t i = 0; i < stem.size(); ++i) {
    const bool v = !is_consonant(stem, i);
    if (prev_v && !v) ++m;  // a "vc" boundary
    prev_v = v;
  }
  return m;
}

bool contains_vowel(const U& stem) {
  for (size_t i = 0; i < stem.size(); ++i)
    if (!is_consonant(stem, i)) return true;
  return false;
}

bool ends_double_consonant(const U& w) {
  const size_t n = w.size();
  return n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1);
}

bool ends_cvc(const U& w) {
  const size_t n = w.size();
  if (n >= 3 && is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) && w[n - 1] != U'w' &&
      w[n - 1] != U'x' && w[n - 1] != U'y')
    return true;
  return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);  // NLTK extension
}

bool positive_measure(const U& s) { return measure(s) > 0; }

// A rule's condition on the stem left after removing the suffix. Some NLTK conditions look at the
// whole word instead (kMinus3 / kMinus1 use the word minus 3 / 1 characters; kNotLSZ the letter
// doubled by "*d").
enum class Cond { kAlways, kPositiveMeasure, kMeasureGt1, kIonStem, kStep1bE, kNotLSZ, kY, kMinus3, kMinus1 };

struct Rule {
  std::u32string_view suffix, replacement;
  Cond cond;
};

bool holds(Cond c, const U& stem, const U& word) {
  switch (c) {
    case Cond::kAlways:
      return true;
    case Cond::kPositiveMeasure:
      return measure(stem) > 0;
    case Cond::kMeasureGt1:
      return measure(stem) > 1;
    case Cond::kIonStem:
      return measure(stem) > 1 && !stem.empty() && (stem.back() == U's' || stem.back() == U't');
    case Cond::kStep1bE:
      return measure(stem) == 1 && ends_cvc(stem);
    case Cond::kNotLSZ:
      return word.back() != U'l' && word.back() != U's' && word.back() != U'z';
    case Cond::kY:
      return stem.size() > 1 && is_consonant(stem, stem.size() - 1);
    case Cond::kMinus3:
      return measure(word.size() >= 3 ? word.substr(0, word.size() - 3) : U()) > 0;
    case Cond::kMinus1:
      return measure(word.empty() ? U() : word.substr(0, word.size() - 1)) > 1;
  }
  return false;
}

bool ends_with_view(const U& w, std::u32string_view suffix) {
  return w.size() >= suffix.size() && std::u32string_view(w).substr(w.size() - suffix.size()) == suffix;
}

// nltk's _apply_rule_list: the first rule whose suffix matches decides (applied or not).
// `star_d_letter`: the replacement of the "*d" rule (the doubled letter), 0 when absent.
U apply_rules(const U& word, const Rule* rules, size_t n, char32_t star_d_letter = 0) {
  for (size_t i = 0; i < n; ++i) {
    const Rule& r = rules[i];
    if (r.suffix == U"*d" && ends_double_consonant(word)) {
      const U stem = word.substr(0, word.size() - 2);
      return holds(r.cond, stem, word) ? stem + U(1, star_d_letter) : word;
    }
    if (ends_with_view(word, r.suffix)) {
      const U stem = word.substr(0, word.size() - r.suffix.size());
      if (!holds(r.cond, stem, word)) return word;
      return r.suffix == U"*d" ? stem + U(1, star_d_letter) : stem + U(r.replacement);
    }
  }
  return word;
}

template <size_t N>
U apply_rules(const U& word, const Rule (&rules)[N], char32_t star_d_letter = 0) {
  return apply_rules(word, rules, N, star_d_letter);
}

U step1a(const U& w) {
  if (ends_with(w, U"ies") && w.size() == 4) return w.substr(0, 1) + U"ie";  // NLTK extension
  static const Rule rules[] = {{U"sses", U"ss", Cond::kAlways},
                               {U"ies", U"i", Cond::kAlways},
                               {U"ss", U"ss", Cond::kAlways},
                               {U"s", U"", Cond::kAlways}};
  return apply_rules(w, rules);
}

U step1b(const U& w) {
  if (ends_with(w, U"ied")) return w.substr(0, w.size() - 3) + (w.size() == 4 ? U"ie" : U"i");  // NLTK extension
  if (ends_with(w, U"eed")) {
    const U stem = w.substr(0, w.size() - 3);
    return measure(stem) > 0 ? stem + U"ee" : w;
  }
  U inter;
  bool ok = false;
  for (const std::u32string_view suffix : {std::u32string_view(U"ed"), std::u32string_view(U"ing")}) {
    if (ends_with_view(w, suffix)) {
      inter = w.substr(0, w.size() - suffix.size());
      if (contains_vowel(inter)) {
        ok = true;
        break;
      }
    }
  }
  if (!ok) return w;
  // The "*d" condition and replacement use the last letter of the intermediate stem (kNotLSZ
  // reads word.back(), and apply_rules passes `inter` as the word).
  static const Rule rules[] = {{U"at", U"ate", Cond::kAlways},
                               {U"bl", U"ble", Cond::kAlways},
                               {U"iz", U"ize", Cond::kAlways},
                               {U"*d", U"", Cond::kNotLSZ},
                               {U"", U"e", Cond::kStep1bE}};
  return apply_rules(inter, rules, inter.back());
}

U step1c(const U& w) {
  static const Rule rules[] = {{U"y", U"i", Cond::kY}};
  return apply_rules(w, rules);
}

U step2(const U& w) {
  if (ends_with(w, U"alli") && positive_measure(w.substr(0, w.size() - 4)))  // NLTK extension
    return step2(w.substr(0, w.size() - 4) + U"al");
  constexpr Cond pm = Cond::kPositiveMeasure;
  static const Rule rules[] = {
      {U"ational", U"ate", pm}, {U"tional", U"tion", pm},
      {U"enci", U"ence", pm},   {U"anci", U"ance", pm},
      {U"izer", U"ize", pm},    {U"bli", U"ble", pm},
      {U"alli", U"al", pm},     {U"entli", U"ent", pm},
      {U"eli", U"e", pm},       {U"ousli", U"ous", pm},
      {U"ization", U"ize", pm}, {U"ation", U"ate", pm},
      {U"ator", U"ate", pm},    {U"alism", U"al", pm},
      {U"iveness", U"ive", pm}, {U"fulness", U"ful", pm},
      {U"ousness", U"ous", pm}, {U"aliti", U"al", pm},
      {U"iviti", U"ive", pm},   {U"biliti", U"ble", pm},
      {U"fulli", U"ful", pm},   {U"logi", U"log", Cond::kMinus3}};  // NLTK: condition on the word minus 3
  return apply_rules(w, rules);
}

U step3(const U& w) {
  constexpr Cond pm = Cond::kPositiveMeasure;
  static const Rule rules[] = {{U"icate", U"ic", pm}, {U"ative", U"", pm}, {U"alize", U"al", pm}, {U"iciti", U"ic", pm},
                               {U"ical", U"ic", pm},  {U"ful", U"", pm},   {U"ness", U"", pm}};
  return apply_rules(w, rules);
}

U step4(const U& w) {
  constexpr Cond gt1 = Cond::kMeasureGt1;
  static const Rule rules[] = {
      {U"al", U"", gt1},    {U"ance", U"", gt1}, {U"ence", U"", gt1}, {U"er", U"", gt1},
      {U"ic", U"", gt1},    {U"able", U"", gt1}, {U"ible", U"", gt1}, {U"ant", U"", gt1},
      {U"ement", U"", gt1}, {U"ment", U"", gt1}, {U"ent", U"", gt1},  {U"ion", U"", Cond::kIonStem},
      {U"ou", U"", gt1},    {U"ism", U"", gt1},  {U"ate", U"", gt1},  {U"iti", U"", gt1},
      {U"ous", U"", gt1},   {U"ive", U"", gt1},  {U"ize", U"", gt1}};
  return apply_rules(w, rules);
}

U step5a(const U& w) {
  if (ends_with(w, U"e")) {
    const U stem = w.substr(0, w.size() - 1);
    const int m = measure(stem);
    if (m > 1) return stem;
    if (m == 1 && !ends_cvc(stem)) return stem;
  }
  return w;
}

U step5b(const U& w) {
  static const Rule rules[] = {{U"ll", U"l", Cond::kMinus1}};
  return apply_rules(w, rules);
}

const std::unordered_map<U, U>& irregular_forms() {
  static const std::unordered_map<U, U> m = {
      {U"sky", U"sky"},        {U"skies", U"sky"},       {U"dying", U"die"},        {U"lying", U"lie"},
      {U"tying", U"tie"},      {U"news", U"news"},       {U"innings", U"inning"},   {U"inning", U"inning"},
      {U"outings", U"outing"}, {U"outing", U"outing"},   {U"cannings", U"canning"}, {U"canning", U"canning"},
      {U"howe", U"howe"},      {U"proceed", U"proceed"}, {U"exceed", U"exceed"},    {U"succeed", U"succeed"}};
  return m;
}

}  // namespace

std::string porter_stem(std::string_view word_utf8) {
  const U word = utf8_decode(word_utf8);
  U stem = py_lower(word);
  // nltk looks the ORIGINAL word up in the irregular pool, then returns pool[lower-cased word].
  auto it = irregular_forms().find(word);
  if (it != irregular_forms().end()) {
    auto lit = irregular_forms().find(stem);
    return utf8_encode(lit != irregular_forms().end() ? lit->second : it->second);
  }
  if (word.size() <= 2) return utf8_encode(stem);
  stem = step1a(stem);
  stem = step1b(stem);
  stem = step1c(stem);
  stem = step2(stem);
  stem = step3(stem);
  stem = step4(stem);
  stem = step5a(stem);
  stem = step5b(stem);
  return utf8_encode(stem);
}

}  // namespace mvb::metrics
