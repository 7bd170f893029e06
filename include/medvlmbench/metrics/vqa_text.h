// The reference's per-answer VQA scores (MedVLMBench eval/utils.py and eval/metrics.py), with every
// quirk kept, plus the standard variants we report under their own names. Definitions:
// ../shared/reference/REFERENCE.md §3 and docs/metrics.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mvb::metrics {

// VQA-v2-style answer normalisation as the reference's normalize_word:
//  1. for each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! in that order: if the ORIGINAL text has
//     "p " or " p", or has digit,digit anywhere, p is deleted, else replaced by a space (cumulative);
//  2. the first 32 periods not followed by a digit are deleted (the reference passes re.UNICODE, 32,
//     as the `count` argument of re.sub; its look-behind is mistyped as a look-ahead and never fires);
//  3. lower-case, split on whitespace, number words none/zero..ten -> digits, drop a/an/the, apply
//     the VQA contractions table (dont -> don't ...), join with single spaces, delete ",".
// "Digit" is any Unicode Nd code point, as Python's \d.
std::string normalize_word(std::string_view text);

// split_sentence(s, 1) of the reference: s.lower().strip().split().
std::vector<std::string> word_tokens(std::string_view text);

struct PrfScore {
  double f1 = 0, precision = 0, recall = 0;
};

// The reference's calculate_f1score(candidate, reference): both normalised, then over word types
// tp += candidate count of shared words, fp += candidate count of candidate-only words, fn +=
// reference count of reference-only words. (0,0,0) when either side is empty or tp == 0.
PrfScore f1_precision_recall(std::string_view candidate, std::string_view reference);

// The reference's calculate_exactmatch: (# DISTINCT reference words present in the candidate) /
// (# candidate tokens), both normalised; 0 for an empty candidate. A precision-like ratio, NOT a
// strict match (a repeated reference word counts once; extra candidate words lower it).
double exact_match_ratio(std::string_view candidate, std::string_view reference);

// The same two scores from already-normalised texts (normalize_word output), so that an evaluator
// normalises each answer once.
PrfScore f1_precision_recall_normalized(std::string_view candidate_norm, std::string_view reference_norm);
double exact_match_ratio_normalized(std::string_view candidate_norm, std::string_view reference_norm);

// Both of the above in one pass over the tokens.
struct WordOverlap {
  PrfScore prf;
  double exact_match = 0;
};
WordOverlap word_overlap_normalized(std::string_view candidate_norm, std::string_view reference_norm);

// Standard exact match (our `exact_match_strict`): normalised strings are equal.
double exact_match_strict(std::string_view candidate, std::string_view reference);

// The reference's open accuracy: recall >= 0.75.
double open_accuracy(double recall);

// The reference's closed accuracy: the lower-cased answer is a SUBSTRING of the lower-cased
// prediction ("no" matches "not", "know", "nodule"; an empty answer always matches).
double closed_accuracy_substring(std::string_view prediction, std::string_view answer);

// Our `accuracy_closed_strict`: the normalised answer occurs as a whole-word run in the normalised
// prediction, and, when it is "yes" or "no", the opposite word does not occur. An empty normalised
// answer never matches.
double closed_accuracy_strict(std::string_view prediction, std::string_view answer);

}  // namespace mvb::metrics
