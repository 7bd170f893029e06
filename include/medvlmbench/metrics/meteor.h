// METEOR as nltk.translate.meteor_score (nltk 3.8): words are lower-cased, aligned in three stages
// (exact, Porter stem, WordNet synonym; each stage matches greedily from the END of both lists),
// then score = (1 - gamma * (chunks / matches)^beta) * P*R / (alpha*P + (1-alpha)*R).
#pragma once

#include <string>
#include <vector>

namespace mvb::metrics {

class WordNet;

struct MeteorParams {
  double alpha = 0.9, beta = 3.0, gamma = 0.5;
};

// single_meteor_score(reference, hypothesis): pre-tokenised inputs. `wordnet` null: no synonym stage.
double meteor_single(const std::vector<std::string>& reference, const std::vector<std::string>& hypothesis,
                     const WordNet* wordnet, const MeteorParams& params = {});

// meteor_score(references, hypothesis): the best score over the references.
double meteor(const std::vector<std::vector<std::string>>& references, const std::vector<std::string>& hypothesis,
              const WordNet* wordnet, const MeteorParams& params = {});

}  // namespace mvb::metrics
