// WordNet 3.0 synonyms from the Princeton database files (Debian's wordnet-base installs them in
// /usr/share/wordnet), looked up the way nltk's WordNetCorpusReader.synsets() does: the word is
// lower-cased, reduced by morphy (exception lists, then the detachment rules) for each part of
// speech n, v, a, r, and the lemma names of every synset found are collected.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mvb::metrics {

class WordNet {
 public:
  // Reads the index and exception files of `dir` (data files are read on demand). Throws
  // mvb::Error naming the missing file and the package that provides it.
  explicit WordNet(const std::string& dir);

  // The folder used when none is given: $MVB_WORDNET_DIR, else /usr/share/wordnet.
  static std::string default_dir();
  // A process-wide instance for default_dir(), loaded on first use (thread-safe).
  static const WordNet& shared();

  // Lemma names (as stored, case kept, syntactic markers such as "(a)" removed) of all synsets of
  // `word`, in nltk's order, duplicates removed.
  // The reference stays valid for the life of this WordNet (results are cached per word).
  const std::vector<std::string>& synonyms(const std::string& word) const;

  // nltk's _morphy(form, pos): base forms of `form` present in the index for pos ('n','v','a','r').
  std::vector<std::string> morphy(const std::string& form, char pos) const;

 private:
  struct PosData {
    std::unordered_map<std::string, std::vector<long>> index;  // lemma -> synset offsets
    std::unordered_map<std::string, std::vector<std::string>> exceptions;
    std::string data_path;
  };
  const PosData& pos_data(char pos) const;
  std::vector<std::string> lemma_names(char pos, long offset) const;

  PosData noun_, verb_, adj_, adv_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<std::string>> cache_;
};

}  // namespace mvb::metrics
