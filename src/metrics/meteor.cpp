#include "medvlmbench/metrics/meteor.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "medvlmbench/metrics/porter.h"
#include "medvlmbench/metrics/pytext.h"
#include "medvlmbench/metrics/wordnet.h"

namespace mvb::metrics {
namespace {

using Enum = std::vector<std::pair<int, std::string>>;  // (original position, word)
using Matches = std::vector<std::pair<int, int>>;       // (hypothesis position, reference position)

// nltk's _match_enums: for each hypothesis word from the last, the last equal reference word
// (`same` decides equality); matched entries leave both lists.
template <class Same>
void match_enums(Enum& hyp, Enum& ref, Matches& out, Same same) {
  for (int i = static_cast<int>(hyp.size()) - 1; i >= 0; --i) {
    for (int j = static_cast<int>(ref.size()) - 1; j >= 0; --j) {
      if (same(hyp[static_cast<size_t>(i)].second, ref[static_cast<size_t>(j)].second)) {
        out.emplace_back(hyp[static_cast<size_t>(i)].first, ref[static_cast<size_t>(j)].first);
        hyp.erase(hyp.begin() + i);
        ref.erase(ref.begin() + j);
        break;
      }
    }
  }
}

// Stems repeat across a corpus; a per-thread memo keeps the Porter rules off the hot path.
const std::string& stem_cached(const std::string& word) {
  thread_local std::unordered_map<std::string, std::string> memo;
  if (memo.size() > 200000) memo.clear();
  auto it = memo.find(word);
  if (it == memo.end()) it = memo.emplace(word, porter_stem(word)).first;
  return it->second;
}

int count_chunks(const Matches& m) {
  int chunks = 1;
  for (size_t i = 0; i + 1 < m.size(); ++i)
    if (!(m[i + 1].first == m[i].first + 1 && m[i + 1].second == m[i].second + 1)) ++chunks;
  return chunks;
}

}  // namespace

double meteor_single(const std::vector<std::string>& reference, const std::vector<std::string>& hypothesis,
                     const WordNet* wordnet, const MeteorParams& params) {
  Enum hyp, ref;
  for (size_t i = 0; i < hypothesis.size(); ++i) hyp.emplace_back(static_cast<int>(i), py_lower(hypothesis[i]));
  for (size_t i = 0; i < reference.size(); ++i) ref.emplace_back(static_cast<int>(i), py_lower(reference[i]));
  const double translation_length = static_cast<double>(hyp.size());
  const double reference_length = static_cast<double>(ref.size());

  Matches matches;
  match_enums(hyp, ref, matches, [](const std::string& a, const std::string& b) { return a == b; });
  // Stem stage: nltk replaces the words of the unmatched lists by their stems from here on, so the
  // synonym stage looks up stems, not the original words.
  for (auto& e : hyp) e.second = stem_cached(e.second);
  for (auto& e : ref) e.second = stem_cached(e.second);
  match_enums(hyp, ref, matches, [](const std::string& a, const std::string& b) { return a == b; });
  if (wordnet) {
    for (int i = static_cast<int>(hyp.size()) - 1; i >= 0; --i) {
      const std::string& w = hyp[static_cast<size_t>(i)].second;
      const auto& names = wordnet->synonyms(w);
      // The word itself or a lemma name without "_" (multi-word lemmas never equal one word).
      const auto is_synonym = [&](const std::string& r) {
        return r == w || (r.find('_') == std::string::npos && std::find(names.begin(), names.end(), r) != names.end());
      };
      for (int j = static_cast<int>(ref.size()) - 1; j >= 0; --j) {
        if (is_synonym(ref[static_cast<size_t>(j)].second)) {
          matches.emplace_back(hyp[static_cast<size_t>(i)].first, ref[static_cast<size_t>(j)].first);
          hyp.erase(hyp.begin() + i);
          ref.erase(ref.begin() + j);
          break;
        }
      }
    }
  }
  std::stable_sort(matches.begin(), matches.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const double m = static_cast<double>(matches.size());
  if (m == 0 || translation_length == 0 || reference_length == 0) return 0.0;
  const double precision = m / translation_length;
  const double recall = m / reference_length;
  const double fmean = precision * recall / (params.alpha * precision + (1 - params.alpha) * recall);
  const double frag = count_chunks(matches) / m;
  const double penalty = params.gamma * std::pow(frag, params.beta);
  return (1 - penalty) * fmean;
}

double meteor(const std::vector<std::vector<std::string>>& references, const std::vector<std::string>& hypothesis,
              const WordNet* wordnet, const MeteorParams& params) {
  double best = 0;
  bool any = false;
  for (const auto& r : references) {
    const double s = meteor_single(r, hypothesis, wordnet, params);
    if (!any || s > best) best = s;
    any = true;
  }
  return best;
}

}  // namespace mvb::metrics
