// Name -> entry registries. Each implementation registers itself with one line beside its code:
//
//   MVB_REGISTER(model_registry(), "CLIP", ModelEntry{...});
//
// Lookup is exact first, then case-insensitive; an unknown name throws a UsageError that lists the
// valid names and the closest match.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb {

template <class Entry>
class Registry {
 public:
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Returns true so it can initialise a static (see MVB_REGISTER).
  bool add(const std::string& name, Entry entry) {
    MVB_CHECK(!name.empty(), "cannot register an empty ", kind_, " name");
    MVB_CHECK(entries_.find(name) == entries_.end(), "duplicate ", kind_, " registration: '", name, "'");
    entries_.emplace(name, std::move(entry));
    return true;
  }

  bool contains(const std::string& name) const { return find(name) != nullptr; }

  // The registered spelling of `name` (resolving case differences); throws if unknown.
  std::string canonical(const std::string& name) const {
    if (entries_.count(name)) return name;
    for (const auto& kv : entries_)
      if (to_lower(kv.first) == to_lower(name)) return kv.first;
    throw_unknown(name);
  }

  const Entry& get(const std::string& name) const {
    if (const Entry* e = find(name)) return *e;
    throw_unknown(name);
  }

  const Entry* find(const std::string& name) const {
    auto it = entries_.find(name);
    if (it != entries_.end()) return &it->second;
    for (const auto& kv : entries_)
      if (to_lower(kv.first) == to_lower(name)) return &kv.second;
    return nullptr;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }
  const std::map<std::string, Entry>& entries() const { return entries_; }
  const std::string& kind() const { return kind_; }

 private:
  [[noreturn]] void throw_unknown(const std::string& name) const {
    std::string msg = "unknown " + kind_ + " '" + name + "'";
    std::string best = closest_match(name, names());
    if (!best.empty()) msg += "; did you mean '" + best + "'?";
    msg += " Valid " + kind_ + "s: " + join(names(), ", ");
    throw UsageError(msg);
  }

  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mvb

#define MVB_CONCAT_INNER(a, b) a##b
#define MVB_CONCAT(a, b) MVB_CONCAT_INNER(a, b)
// Registers `entry` under `name` in `registry` at static-initialisation time.
#define MVB_REGISTER(registry, name, ...) \
  static const bool MVB_CONCAT(mvb_registered_, __LINE__) = (registry).add(name, __VA_ARGS__)
