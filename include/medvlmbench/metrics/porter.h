// The Porter stemmer exactly as nltk.stem.PorterStemmer() (mode NLTK_EXTENSIONS, nltk 3.8), which
// nltk's METEOR uses for its stem-match stage. Works on code points like Python does.
#pragma once

#include <string>
#include <string_view>

namespace mvb::metrics {

std::string porter_stem(std::string_view word);

}  // namespace mvb::metrics
