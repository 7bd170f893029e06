#include "medvlmbench/metrics/vqa_text.h"

#include <algorithm>
#include <array>
#include <type_traits>
#include <unordered_map>

#include "medvlmbench/metrics/pytext.h"

namespace mvb::metrics {
namespace {

// Unicode category Nd (Python's \d), as [first, last] ranges (Unicode 14).
constexpr char32_t kDigitRanges[][2] = {
    {0x30, 0x39},       {0x660, 0x669},     {0x6F0, 0x6F9},     {0x7C0, 0x7C9},     {0x966, 0x96F},
    {0x9E6, 0x9EF},     {0xA66, 0xA6F},     {0xAE6, 0xAEF},     {0xB66, 0xB6F},     {0xBE6, 0xBEF},
    {0xC66, 0xC6F},     {0xCE6, 0xCEF},     {0xD66, 0xD6F},     {0xDE6, 0xDEF},     {0xE50, 0xE59},
    {0xED0, 0xED9},     {0xF20, 0xF29},     {0x1040, 0x1049},   {0x1090, 0x1099},   {0x17E0, 0x17E9},
    {0x1810, 0x1819},   {0x1946, 0x194F},   {0x19D0, 0x19D9},   {0x1A80, 0x1A89},   {0x1A90, 0x1A99},
    {0x1B50, 0x1B59},   {0x1BB0, 0x1BB9},   {0x1C40, 0x1C49},   {0x1C50, 0x1C59},   {0xA620, 0xA629},
    {0xA8D0, 0xA8D9},   {0xA900, 0xA909},   {0xA9D0, 0xA9D9},   {0xA9F0, 0xA9F9},   {0xAA50, 0xAA59},
    {0xABF0, 0xABF9},   {0xFF10, 0xFF19},   {0x104A0, 0x104A9}, {0x10D30, 0x10D39}, {0x11066, 0x1106F},
    {0x110F0, 0x110F9}, {0x11136, 0x1113F}, {0x111D0, 0x111D9}, {0x112F0, 0x112F9}, {0x11450, 0x11459},
    {0x114D0, 0x114D9}, {0x11650, 0x11659}, {0x116C0, 0x116C9}, {0x11730, 0x11739}, {0x118E0, 0x118E9},
    {0x11950, 0x11959}, {0x11C50, 0x11C59}, {0x11D50, 0x11D59}, {0x11DA0, 0x11DA9}, {0x16A60, 0x16A69},
    {0x16AC0, 0x16AC9}, {0x16B50, 0x16B59}, {0x1D7CE, 0x1D7FF}, {0x1E140, 0x1E149}, {0x1E2F0, 0x1E2F9},
    {0x1E950, 0x1E959}, {0x1FBF0, 0x1FBF9}};

bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  for (const auto& r : kDigitRanges)
    if (c >= r[0] && c <= r[1]) return true;
  return false;
}

// The punctuation list of the reference, in its order (the order matters: deletions and
// replacements accumulate while the test looks at the original text).
constexpr char kPunct[] = {';',  '/', '[', ']', '"', '{', '}', '(', ')', '=', '+',
                           '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'};

const std::unordered_map<std::string, std::string>& contractions() {
  // The VQA-v2 evaluation toolkit's table, as the reference uses it (keys with capitals such as
  // "Im" can never match lower-cased words; "somebody'd" maps to "somebodyd" there, kept).
  static const std::unordered_map<std::string, std::string> m = {{"aint", "ain't"},
                                                                 {"arent", "aren't"},
                                                                 {"cant", "can't"},
                                                                 {"couldve", "could've"},
                                                                 {"couldnt", "couldn't"},
                                                                 {"couldn'tve", "couldn't've"},
                                                                 {"couldnt've", "couldn't've"},
                                                                 {"didnt", "didn't"},
                                                                 {"doesnt", "doesn't"},
                                                                 {"dont", "don't"},
                                                                 {"hadnt", "hadn't"},
                                                                 {"hadnt've", "hadn't've"},
                                                                 {"hadn'tve", "hadn't've"},
                                                                 {"hasnt", "hasn't"},
                                                                 {"havent", "haven't"},
                                                                 {"hed", "he'd"},
                                                                 {"hed've", "he'd've"},
                                                                 {"he'dve", "he'd've"},
                                                                 {"hes", "he's"},
                                                                 {"howd", "how'd"},
                                                                 {"howll", "how'll"},
                                                                 {"hows", "how's"},
                                                                 {"Id've", "I'd've"},
                                                                 {"I'dve", "I'd've"},
                                                                 {"Im", "I'm"},
                                                                 {"Ive", "I've"},
                                                                 {"isnt", "isn't"},
                                                                 {"itd", "it'd"},
                                                                 {"itd've", "it'd've"},
                                                                 {"it'dve", "it'd've"},
                                                                 {"itll", "it'll"},
                                                                 {"let's", "let's"},
                                                                 {"maam", "ma'am"},
                                                                 {"mightnt", "mightn't"},
                                                                 {"mightnt've", "mightn't've"},
                                                                 {"mightn'tve", "mightn't've"},
                                                                 {"mightve", "might've"},
                                                                 {"mustnt", "mustn't"},
                                                                 {"mustve", "must've"},
                                                                 {"neednt", "needn't"},
                                                                 {"notve", "not've"},
                                                                 {"oclock", "o'clock"},
                                                                 {"oughtnt", "oughtn't"},
                                                                 {"ow's'at", "'ow's'at"},
                                                                 {"'ows'at", "'ow's'at"},
                                                                 {"'ow'sat", "'ow's'at"},
                                                                 {"shant", "shan't"},
                                                                 {"shed've", "she'd've"},
                                                                 {"she'dve", "she'd've"},
                                                                 {"she's", "she's"},
                                                                 {"shouldve", "should've"},
                                                                 {"shouldnt", "shouldn't"},
                                                                 {"shouldnt've", "shouldn't've"},
                                                                 {"shouldn'tve", "shouldn't've"},
                                                                 {"somebody'd", "somebodyd"},
                                                                 {"somebodyd've", "somebody'd've"},
                                                                 {"somebody'dve", "somebody'd've"},
                                                                 {"somebodyll", "somebody'll"},
                                                                 {"somebodys", "somebody's"},
                                                                 {"someoned", "someone'd"},
                                                                 {"someoned've", "someone'd've"},
                                                                 {"someone'dve", "someone'd've"},
                                                                 {"someonell", "someone'll"},
                                                                 {"someones", "someone's"},
                                                                 {"somethingd", "something'd"},
                                                                 {"somethingd've", "something'd've"},
                                                                 {"something'dve", "something'd've"},
                                                                 {"somethingll", "something'll"},
                                                                 {"thats", "that's"},
                                                                 {"thered", "there'd"},
                                                                 {"thered've", "there'd've"},
                                                                 {"there'dve", "there'd've"},
                                                                 {"therere", "there're"},
                                                                 {"theres", "there's"},
                                                                 {"theyd", "they'd"},
                                                                 {"theyd've", "they'd've"},
                                                                 {"they'dve", "they'd've"},
                                                                 {"theyll", "they'll"},
                                                                 {"theyre", "they're"},
                                                                 {"theyve", "they've"},
                                                                 {"twas", "'twas"},
                                                                 {"wasnt", "wasn't"},
                                                                 {"wed've", "we'd've"},
                                                                 {"we'dve", "we'd've"},
                                                                 {"weve", "we've"},
                                                                 {"werent", "weren't"},
                                                                 {"whatll", "what'll"},
                                                                 {"whatre", "what're"},
                                                                 {"whats", "what's"},
                                                                 {"whatve", "what've"},
                                                                 {"whens", "when's"},
                                                                 {"whered", "where'd"},
                                                                 {"wheres", "where's"},
                                                                 {"whereve", "where've"},
                                                                 {"whod", "who'd"},
                                                                 {"whod've", "who'd've"},
                                                                 {"who'dve", "who'd've"},
                                                                 {"wholl", "who'll"},
                                                                 {"whos", "who's"},
                                                                 {"whove", "who've"},
                                                                 {"whyll", "why'll"},
                                                                 {"whyre", "why're"},
                                                                 {"whys", "why's"},
                                                                 {"wont", "won't"},
                                                                 {"wouldve", "would've"},
                                                                 {"wouldnt", "wouldn't"},
                                                                 {"wouldnt've", "wouldn't've"},
                                                                 {"wouldn'tve", "wouldn't've"},
                                                                 {"yall", "y'all"},
                                                                 {"yall'll", "y'all'll"},
                                                                 {"y'allll", "y'all'll"},
                                                                 {"yall'd've", "y'all'd've"},
                                                                 {"y'alld've", "y'all'd've"},
                                                                 {"y'all'dve", "y'all'd've"},
                                                                 {"youd", "you'd"},
                                                                 {"youd've", "you'd've"},
                                                                 {"you'dve", "you'd've"},
                                                                 {"youll", "you'll"},
                                                                 {"youre", "you're"},
                                                                 {"youve", "you've"}};
  return m;
}

const std::unordered_map<std::string, std::string>& number_words() {
  static const std::unordered_map<std::string, std::string> m = {
      {"none", "0"}, {"zero", "0"}, {"one", "1"},   {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  return m;
}

std::vector<std::string> sorted_tokens(std::string_view normalized) {
  std::vector<std::string> t = word_tokens(normalized);
  std::sort(t.begin(), t.end());
  return t;
}

}  // namespace

namespace {

// normalize_word's punctuation and period steps, generic over the character type: bytes for ASCII
// input (the common case, no decoding), code points otherwise.
bool is_punct(char32_t c) {
  static const auto table = [] {
    std::array<bool, 128> t{};
    for (char p : kPunct) t[static_cast<unsigned char>(p)] = true;
    return t;
  }();
  return c < 128 && table[c];
}

// normalize_word's punctuation and period steps in two passes. The reference loops over the marks
// one at a time, but each mark's fate (deleted or replaced by a space) depends only on the ORIGINAL
// text, and the edits of different marks touch different characters, so one pass gives the same
// result. Generic over bytes (ASCII input) and code points.
template <class Str>
Str strip_punctuation(const Str& original) {
  using C = typename Str::value_type;
  auto code = [](C c) { return static_cast<char32_t>(static_cast<std::make_unsigned_t<C>>(c)); };
  const size_t n = original.size();
  bool dcd = false;
  bool erase[128] = {};
  for (size_t i = 0; i < n; ++i) {
    const char32_t c = code(original[i]);
    if (c == U',' && i > 0 && i + 1 < n && is_digit(code(original[i - 1])) && is_digit(code(original[i + 1])))
      dcd = true;
    if (c < 128 && is_punct(c) && ((i + 1 < n && original[i + 1] == C(' ')) || (i > 0 && original[i - 1] == C(' '))))
      erase[c] = true;
  }
  Str cur;
  cur.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const char32_t c = code(original[i]);
    if (c < 128 && is_punct(c)) {
      if (!(dcd || erase[c])) cur.push_back(C(' '));
    } else {
      cur.push_back(original[i]);
    }
  }
  // Periods not followed by a digit, at most 32 of them (re.sub count = re.UNICODE = 32).
  Str stripped;
  stripped.reserve(cur.size());
  int removed = 0;
  for (size_t i = 0; i < cur.size(); ++i) {
    if (cur[i] == C('.') && removed < 32 && !(i + 1 < cur.size() && is_digit(code(cur[i + 1])))) {
      ++removed;
      continue;
    }
    stripped.push_back(cur[i]);
  }
  return stripped;
}

}  // namespace

std::string normalize_word(std::string_view text) {
  bool ascii = true;
  for (unsigned char c : text) ascii &= c < 0x80;
  std::vector<std::string> raw_words;
  if (ascii) {
    raw_words = py_split(py_lower(strip_punctuation(std::string(text))));
  } else {
    for (const auto& w : py_split(py_lower(strip_punctuation(utf8_decode(text))))) raw_words.push_back(utf8_encode(w));
  }
  std::vector<std::string> words;
  for (auto& w : raw_words) {
    auto num = number_words().find(w);
    if (num != number_words().end()) w = num->second;
    if (w == "a" || w == "an" || w == "the") continue;
    auto c = contractions().find(w);
    if (c != contractions().end()) w = c->second;
    words.push_back(std::move(w));
  }
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i) out.push_back(' ');
    out += words[i];
  }
  out.erase(std::remove(out.begin(), out.end(), ','), out.end());
  return out;
}

std::vector<std::string> word_tokens(std::string_view text) { return py_split(py_lower(text)); }

PrfScore f1_precision_recall(std::string_view candidate, std::string_view reference) {
  return f1_precision_recall_normalized(normalize_word(candidate), normalize_word(reference));
}

PrfScore f1_precision_recall_normalized(std::string_view candidate_norm, std::string_view reference_norm) {
  const auto cand = sorted_tokens(candidate_norm);
  const auto ref = sorted_tokens(reference_norm);
  if (cand.empty() || ref.empty()) return {};
  // Merge the sorted token lists: shared types add their candidate count to tp.
  double tp = 0, fp = 0, fn = 0;
  size_t i = 0, j = 0;
  while (i < cand.size() || j < ref.size()) {
    if (j == ref.size() || (i < cand.size() && cand[i] < ref[j])) {
      ++fp, ++i;
    } else if (i == cand.size() || ref[j] < cand[i]) {
      ++fn, ++j;
    } else {
      const std::string& w = cand[i];
      while (i < cand.size() && cand[i] == w) ++tp, ++i;
      while (j < ref.size() && ref[j] == w) ++j;
    }
  }
  if (tp == 0) return {};
  PrfScore s;
  s.precision = tp / (tp + fp);
  s.recall = tp / (tp + fn);
  s.f1 = 2 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

double exact_match_ratio(std::string_view candidate, std::string_view reference) {
  return exact_match_ratio_normalized(normalize_word(candidate), normalize_word(reference));
}

double exact_match_ratio_normalized(std::string_view candidate_norm, std::string_view reference_norm) {
  const auto cand = sorted_tokens(candidate_norm);
  auto ref = sorted_tokens(reference_norm);
  if (cand.empty()) return 0.0;
  ref.erase(std::unique(ref.begin(), ref.end()), ref.end());
  size_t count = 0;
  for (const auto& w : ref) count += std::binary_search(cand.begin(), cand.end(), w);
  return static_cast<double>(count) / static_cast<double>(cand.size());
}

WordOverlap word_overlap_normalized(std::string_view candidate_norm, std::string_view reference_norm) {
  const auto cand = sorted_tokens(candidate_norm);
  const auto ref = sorted_tokens(reference_norm);
  WordOverlap o;
  if (cand.empty()) return o;
  // One merge: shared types give tp (candidate count) and one distinct match for exact_match.
  double tp = 0, fp = 0, fn = 0, distinct_shared = 0;
  size_t i = 0, j = 0;
  while (i < cand.size() || j < ref.size()) {
    if (j == ref.size() || (i < cand.size() && cand[i] < ref[j])) {
      ++fp, ++i;
    } else if (i == cand.size() || ref[j] < cand[i]) {
      ++fn, ++j;
    } else {
      const std::string& w = cand[i];
      while (i < cand.size() && cand[i] == w) ++tp, ++i;
      while (j < ref.size() && ref[j] == w) ++j;
      ++distinct_shared;
    }
  }
  o.exact_match = distinct_shared / static_cast<double>(cand.size());
  if (ref.empty() || tp == 0) return o;
  o.prf.precision = tp / (tp + fp);
  o.prf.recall = tp / (tp + fn);
  o.prf.f1 = 2 * o.prf.precision * o.prf.recall / (o.prf.precision + o.prf.recall);
  return o;
}

double exact_match_strict(std::string_view candidate, std::string_view reference) {
  return normalize_word(candidate) == normalize_word(reference) ? 1.0 : 0.0;
}

double open_accuracy(double recall) { return recall >= 0.75 ? 1.0 : 0.0; }

double closed_accuracy_substring(std::string_view prediction, std::string_view answer) {
  return py_lower(prediction).find(py_lower(answer)) != std::string::npos ? 1.0 : 0.0;
}

double closed_accuracy_strict(std::string_view prediction, std::string_view answer) {
  const auto pred = word_tokens(normalize_word(prediction));
  const auto ans = word_tokens(normalize_word(answer));
  if (ans.empty()) return 0.0;
  const auto has_word = [&](const std::string& w) { return std::find(pred.begin(), pred.end(), w) != pred.end(); };
  bool found = false;
  for (size_t i = 0; !found && i + ans.size() <= pred.size(); ++i)
    found = std::equal(ans.begin(), ans.end(), pred.begin() + static_cast<std::ptrdiff_t>(i));
  if (!found) return 0.0;
  if (ans.size() == 1 && ans[0] == "yes" && has_word("no")) return 0.0;
  if (ans.size() == 1 && ans[0] == "no" && has_word("yes")) return 0.0;
  return 1.0;
}

}  // namespace mvb::metrics
