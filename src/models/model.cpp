#include "medvlmbench/models/model.h"

namespace mvb {

Registry<ModelEntry>& model_registry() {
  static Registry<ModelEntry> r("model");
  return r;
}

}  // namespace mvb
