#include "medvlmbench/metrics/wordnet.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/metrics/pytext.h"

namespace mvb::metrics {
namespace {

std::ifstream open_or_throw(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  MVB_CHECK(f.good(), "WordNet file ", path,
            " is missing; install the Debian package wordnet-base (scripts/setup.sh) or set MVB_WORDNET_DIR");
  return f;
}

void load_index(const std::string& path, std::unordered_map<std::string, std::vector<long>>& index) {
  auto f = open_or_throw(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == ' ') continue;  // licence header
    std::istringstream is(line);
    std::string lemma, pos;
    int n_synsets = 0, n_pointers = 0, n_senses = 0, tagged = 0;
    is >> lemma >> pos >> n_synsets >> n_pointers;
    std::string skip;
    for (int i = 0; i < n_pointers; ++i) is >> skip;
    is >> n_senses >> tagged;
    std::vector<long> offsets(static_cast<size_t>(n_synsets));
    for (auto& o : offsets) is >> o;
    MVB_CHECK(!is.fail(), "WordNet index ", path, " has a malformed line: ", line.substr(0, 80));
    index[lemma] = std::move(offsets);
  }
}

void load_exceptions(const std::string& path, std::unordered_map<std::string, std::vector<std::string>>& exc) {
  auto f = open_or_throw(path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream is(line);
    std::string form, base;
    if (!(is >> form)) continue;
    auto& bases = exc[form];
    bases.clear();  // nltk keeps the last line for a repeated form
    while (is >> base) bases.push_back(base);
  }
}

bool str_ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const std::vector<std::pair<std::string, std::string>>& substitutions(char pos) {
  static const std::vector<std::pair<std::string, std::string>> noun = {{"s", ""},      {"ses", "s"},   {"ves", "f"},
                                                                        {"xes", "x"},   {"zes", "z"},   {"ches", "ch"},
                                                                        {"shes", "sh"}, {"men", "man"}, {"ies", "y"}};
  static const std::vector<std::pair<std::string, std::string>> verb = {
      {"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}};
  static const std::vector<std::pair<std::string, std::string>> adj = {
      {"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}};
  static const std::vector<std::pair<std::string, std::string>> none;
  switch (pos) {
    case 'n':
      return noun;
    case 'v':
      return verb;
    case 'a':
      return adj;
    default:
      return none;
  }
}

}  // namespace

WordNet::WordNet(const std::string& dir) {
  const std::pair<PosData*, std::string> files[] = {{&noun_, "noun"}, {&verb_, "verb"}, {&adj_, "adj"}, {&adv_, "adv"}};
  for (const auto& [data, name] : files) {
    load_index(dir + "/index." + name, data->index);
    load_exceptions(dir + "/" + name + ".exc", data->exceptions);
    data->data_path = dir + "/data." + name;
    open_or_throw(data->data_path);
  }
}

std::string WordNet::default_dir() {
  const char* env = std::getenv("MVB_WORDNET_DIR");
  return env && *env ? env : "/usr/share/wordnet";
}

const WordNet& WordNet::shared() {
  static const WordNet wn(default_dir());
  return wn;
}

const WordNet::PosData& WordNet::pos_data(char pos) const {
  switch (pos) {
    case 'n':
      return noun_;
    case 'v':
      return verb_;
    case 'a':
      return adj_;
    default:
      return adv_;
  }
}

std::vector<std::string> WordNet::morphy(const std::string& form, char pos) const {
  const PosData& d = pos_data(pos);
  const auto& subs = substitutions(pos);
  auto apply_rules = [&](const std::vector<std::string>& forms) {
    std::vector<std::string> out;
    for (const auto& f : forms)
      for (const auto& [old, repl] : subs)
        if (str_ends_with(f, old)) out.push_back(f.substr(0, f.size() - old.size()) + repl);
    return out;
  };
  auto filter_forms = [&](const std::vector<std::string>& forms) {
    std::vector<std::string> out;
    for (const auto& f : forms)
      if (d.index.count(f) && std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    return out;
  };
  auto exc = d.exceptions.find(form);
  if (exc != d.exceptions.end()) {
    std::vector<std::string> forms = {form};
    forms.insert(forms.end(), exc->second.begin(), exc->second.end());
    return filter_forms(forms);
  }
  std::vector<std::string> forms = apply_rules({form});
  std::vector<std::string> first = {form};
  first.insert(first.end(), forms.begin(), forms.end());
  auto results = filter_forms(first);
  if (!results.empty()) return results;
  while (!forms.empty()) {
    forms = apply_rules(forms);
    results = filter_forms(forms);
    if (!results.empty()) return results;
  }
  return {};
}

std::vector<std::string> WordNet::lemma_names(char pos, long offset) const {
  // A data line: offset lex_filenum ss_type w_cnt(hex) {word lex_id(hex)}... | gloss
  std::ifstream f(pos_data(pos).data_path, std::ios::binary);
  f.seekg(offset);
  std::string line;
  std::getline(f, line);
  std::istringstream is(line);
  std::string off, lexfile, ss_type, count_hex;
  is >> off >> lexfile >> ss_type >> count_hex;
  MVB_CHECK(!is.fail() && std::strtol(off.c_str(), nullptr, 10) == offset, "WordNet data file ",
            pos_data(pos).data_path, " has no synset at offset ", offset, "; the files are from different releases");
  const long n = std::strtol(count_hex.c_str(), nullptr, 16);
  std::vector<std::string> names;
  for (long i = 0; i < n; ++i) {
    std::string word, lex_id;
    is >> word >> lex_id;
    // Adjective syntactic markers such as "(a)", "(p)", "(ip)" are not part of the name.
    const auto paren = word.find('(');
    if (paren != std::string::npos && word.back() == ')') word.erase(paren);
    names.push_back(word);
  }
  return names;
}

std::vector<std::string> WordNet::synonyms(const std::string& word) const {
  const std::string lemma = py_lower(word);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(lemma);
    if (it != cache_.end()) return it->second;
  }
  std::vector<std::string> out;
  for (char pos : {'n', 'v', 'a', 'r'}) {
    const PosData& d = pos_data(pos);
    for (const auto& form : morphy(lemma, pos)) {
      auto it = d.index.find(form);
      if (it == d.index.end()) continue;
      for (long offset : it->second)
        for (auto& name : lemma_names(pos, offset))
          if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
    }
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.emplace(lemma, out);
  return out;
}

}  // namespace mvb::metrics
