#include "medvlmbench/metrics/wordnet.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

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

// Whitespace-separated fields of one line, as views (istringstream is ~10x slower and WordNet's
// noun index alone has 82,000 lines).
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

long to_long(std::string_view s, int base, bool* ok) {
  long v = 0;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v, base);
  *ok = *ok && r.ec == std::errc() && r.ptr == end;
  return v;
}

std::string read_all(const std::string& path) {
  auto f = open_or_throw(path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void load_index(const std::string& path, std::unordered_map<std::string, std::vector<long>>& index) {
  const std::string text = read_all(path);
  std::string_view rest(text);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty() || line[0] == ' ') continue;  // licence header
    // lemma pos n_synsets n_pointers pointer... n_senses tagged_senses offset...
    const auto f = fields(line);
    bool ok = f.size() >= 4;
    const long n_synsets = ok ? to_long(f[2], 10, &ok) : 0;
    const long n_pointers = ok ? to_long(f[3], 10, &ok) : 0;
    const size_t first = 4 + static_cast<size_t>(n_pointers) + 2;
    ok = ok && n_synsets > 0 && f.size() >= first + static_cast<size_t>(n_synsets);
    std::vector<long> offsets;
    for (long k = 0; ok && k < n_synsets; ++k) offsets.push_back(to_long(f[first + static_cast<size_t>(k)], 10, &ok));
    MVB_CHECK(ok, "WordNet index ", path, " has a malformed line: ", std::string(line.substr(0, 80)));
    index[std::string(f[0])] = std::move(offsets);
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

const std::vector<std::string>& WordNet::synonyms(const std::string& word) const {
  // Index lemmas are single tokens (multi-word ones use "_"), and neither the exception lists nor
  // the detachment rules add or remove spaces: a text with whitespace has no synsets. (The
  // reference's whole-string VQA METEOR asks for every answer this way.)
  static const std::vector<std::string> kNone;
  for (char c : word)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return kNone;
  const std::string lemma = py_lower(word);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(lemma);
    if (it != cache_.end()) return it->second;  // unordered_map nodes never move
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
  return cache_.emplace(lemma, std::move(out)).first->second;  // bounded by the distinct words seen
}

}  // namespace mvb::metrics
