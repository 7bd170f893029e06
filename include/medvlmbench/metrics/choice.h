// Multiple-choice answer extraction as the reference's extract_choice_letter (Nanboy-Ronan
// MedVLMBench eval/utils.py). The first rule whose FIRST regex hit names a valid option wins:
//  1. cue words: (final answer|answer is|answer|ans|choice|option) [:-]? [([]? X [)\]]?  (case-blind),
//     then "(the) correct answer is X";
//  2. a bracketed letter "(X)" or "[X]";
//  3. a bold letter "**X**";
//  4. the first standalone one-letter word.
// Each rule looks only at its first match: "answer: the lesion" stops rule 1 at "t" (not an
// option) and falls through to rule 2, it does not look for a later "answer". Regex semantics are
// Python's (Unicode \b, \s; case-blind [A-Za-z] also takes U+0131 and U+017F, as Python's re does).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvb::metrics {

// `choices`: the option letters (each string contributes its characters, as the reference joins
// the option keys and splits them into characters). Returns the upper-case letter, or nullopt.
std::optional<char> extract_choice_letter(std::string_view response, const std::vector<std::string>& choices);

// The reference's MC accuracy: 1 when lower(letter) == lower(answer), 0 when no letter is found.
double mc_accuracy(std::string_view response, std::string_view answer, const std::vector<std::string>& choices);

}  // namespace mvb::metrics
