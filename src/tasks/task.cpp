#include "medvlmbench/tasks/task.h"

namespace mvb {

Registry<TaskEntry>& task_registry() {
  static Registry<TaskEntry> r("task");
  return r;
}

}  // namespace mvb
