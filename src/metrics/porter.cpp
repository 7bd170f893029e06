// A port of nltk/stem/porter.py (NLTK_EXTENSIONS mode). The rule tables and their order are the
// algorithm; the NLTK extensions (irregular forms, "ies"/"ied" on 4-letter words, the 2-letter cvc
// case, "alli", "fulli", "logi") are marked where they apply.
#include "medvlmbench/metrics/porter.h"

#include <functional>
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

struct Rule {
  U suffix, replacement;
  std::function<bool(const U&)> condition;  // empty: always
};

U apply_rules(const U& word, const std::vector<Rule>& rules) {
  for (const auto& r : rules) {
    if (r.suffix == U"*d" && ends_double_consonant(word)) {
      const U stem = word.substr(0, word.size() - 2);
      return (!r.condition || r.condition(stem)) ? stem + r.replacement : word;
    }
    if (ends_with(word, r.suffix)) {
      const U stem = word.substr(0, word.size() - r.suffix.size());
      return (!r.condition || r.condition(stem)) ? stem + r.replacement : word;
    }
  }
  return word;
}

bool positive_measure(const U& s) { return measure(s) > 0; }

U step1a(const U& w) {
  if (ends_with(w, U"ies") && w.size() == 4) return w.substr(0, 1) + U"ie";  // NLTK extension
  return apply_rules(w, {{U"sses", U"ss", {}}, {U"ies", U"i", {}}, {U"ss", U"ss", {}}, {U"s", U"", {}}});
}

U step1b(const U& w) {
  if (ends_with(w, U"ied")) return w.substr(0, w.size() - 3) + (w.size() == 4 ? U"ie" : U"i");  // NLTK extension
  if (ends_with(w, U"eed")) {
    const U stem = w.substr(0, w.size() - 3);
    return measure(stem) > 0 ? stem + U"ee" : w;
  }
  U inter;
  bool ok = false;
  for (const U suffix : {U"ed", U"ing"}) {
    if (ends_with(w, suffix)) {
      inter = w.substr(0, w.size() - suffix.size());
      if (contains_vowel(inter)) {
        ok = true;
        break;
      }
    }
  }
  if (!ok) return w;
  const char32_t last = inter.back();
  return apply_rules(inter,
                     {{U"at", U"ate", {}},
                      {U"bl", U"ble", {}},
                      {U"iz", U"ize", {}},
                      {U"*d", U(1, last), [last](const U&) { return last != U'l' && last != U's' && last != U'z'; }},
                      {U"", U"e", [](const U& s) { return measure(s) == 1 && ends_cvc(s); }}});
}

U step1c(const U& w) {
  return apply_rules(w, {{U"y", U"i", [](const U& s) { return s.size() > 1 && is_consonant(s, s.size() - 1); }}});
}

U step2(const U& w) {
  if (ends_with(w, U"alli") && positive_measure(w.substr(0, w.size() - 4)))  // NLTK extension
    return step2(w.substr(0, w.size() - 4) + U"al");
  const auto pm = positive_measure;
  std::vector<Rule> rules = {{U"ational", U"ate", pm}, {U"tional", U"tion", pm}, {U"enci", U"ence", pm},
                             {U"anci", U"ance", pm},   {U"izer", U"ize", pm},    {U"bli", U"ble", pm},
                             {U"alli", U"al", pm},     {U"entli", U"ent", pm},   {U"eli", U"e", pm},
                             {U"ousli", U"ous", pm},   {U"ization", U"ize", pm}, {U"ation", U"ate", pm},
                             {U"ator", U"ate", pm},    {U"alism", U"al", pm},    {U"iveness", U"ive", pm},
                             {U"fulness", U"ful", pm}, {U"ousness", U"ous", pm}, {U"aliti", U"al", pm},
                             {U"iviti", U"ive", pm},   {U"biliti", U"ble", pm},  {U"fulli", U"ful", pm}};
  // NLTK extension: the condition looks at the word minus three letters (keeps the "l").
  const U minus3 = w.size() >= 3 ? w.substr(0, w.size() - 3) : U();
  rules.push_back({U"logi", U"log", [minus3](const U&) { return positive_measure(minus3); }});
  return apply_rules(w, rules);
}

U step3(const U& w) {
  const auto pm = positive_measure;
  return apply_rules(w, {{U"icate", U"ic", pm},
                         {U"ative", U"", pm},
                         {U"alize", U"al", pm},
                         {U"iciti", U"ic", pm},
                         {U"ical", U"ic", pm},
                         {U"ful", U"", pm},
                         {U"ness", U"", pm}});
}

U step4(const U& w) {
  const auto gt1 = [](const U& s) { return measure(s) > 1; };
  return apply_rules(
      w,
      {{U"al", U"", gt1},
       {U"ance", U"", gt1},
       {U"ence", U"", gt1},
       {U"er", U"", gt1},
       {U"ic", U"", gt1},
       {U"able", U"", gt1},
       {U"ible", U"", gt1},
       {U"ant", U"", gt1},
       {U"ement", U"", gt1},
       {U"ment", U"", gt1},
       {U"ent", U"", gt1},
       {U"ion", U"", [](const U& s) { return measure(s) > 1 && !s.empty() && (s.back() == U's' || s.back() == U't'); }},
       {U"ou", U"", gt1},
       {U"ism", U"", gt1},
       {U"ate", U"", gt1},
       {U"iti", U"", gt1},
       {U"ous", U"", gt1},
       {U"ive", U"", gt1},
       {U"ize", U"", gt1}});
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
  const U minus1 = w.empty() ? U() : w.substr(0, w.size() - 1);
  return apply_rules(w, {{U"ll", U"l", [minus1](const U&) { return measure(minus1) > 1; }}});
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
