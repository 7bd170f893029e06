// Data parallel training across processes (torch.distributed c10d): one process per device, started
// by torchrun or srun (core/launch_env.h reads which one this is). Rendezvous over a TCPStore at
// MASTER_ADDR:MASTER_PORT (rank 0 serves it), then a Gloo process group on CPU or NCCL on CUDA (NCCL
// only in builds against a CUDA LibTorch). What a trainer does with it, as DistributedDataParallel
// and HF Trainer do:
//   - broadcast(trainable) once after init (and --resume): every rank starts from rank 0's weights;
//   - shard(): rank r trains on its per-device slice of each global batch, which is the batch a
//     single process with per_device x world_size samples would take (same order, same steps);
//   - average_gradients() after backward: gradients summed over ranks and divided by world_size,
//     flattened into one buffer per dtype and device (at most kBucketBytes each) to cut calls;
//   - sum() for the few numbers logged per step, and for agreeing on a stop (SIGTERM) in step;
//   - only rank 0 writes (writes()); barrier() before exit so no rank leaves while rank 0 saves.
// A single process (world size 1) gets an inactive object whose calls do nothing.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "medvlmbench/core/launch_env.h"

namespace mvb::train {

class DataParallel {
 public:
  static constexpr int64_t kBucketBytes = 64ll << 20;

  // Joins the process group of `env` (Gloo for a CPU `device`, NCCL for CUDA). The rendezvous is
  // bounded by env.timeout_s; failing or timing out throws mvb::Error with one line naming
  // MASTER_ADDR:MASTER_PORT and the rank.
  DataParallel(const LaunchEnv& env, c10::Device device);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  bool active() const { return world_size_ > 1; }
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool writes() const { return rank_ == 0; }
  const char* backend() const;  // "gloo", "nccl" or "none"

  // This rank's part [begin, end) of the global batch starting at `from` (positions into the epoch's
  // order, `n` samples in all): rank r takes [from + r*per_rank, from + (r+1)*per_rank), clipped to
  // n (the last batch of an epoch may leave a rank with none).
  std::pair<int64_t, int64_t> shard(int64_t from, int64_t per_rank, int64_t n) const;
  // Rank 0's values into every rank's tensors (in place).
  void broadcast(const std::vector<at::Tensor>& tensors);
  // Every parameter's .grad() averaged over the ranks. A parameter without a gradient on some rank
  // counts as zeros there; one without a gradient on every rank keeps none (AdamW skips it, as in a
  // single process).
  void average_gradients(const std::vector<at::Tensor>& params);
  // Element-wise sums over the ranks.
  std::vector<double> sum(std::vector<double> values);
  void barrier();

  // The ceiling for collectives (a rank saving a large checkpoint keeps the others waiting).
  static double collective_timeout_s(const LaunchEnv& env);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_size_ = 1;
};

// Whether this build can run data parallel on `device` (Gloo: libgloo's headers at configure time;
// NCCL: a CUDA LibTorch), and the reason when it cannot.
bool distributed_backend_available(c10::Device device, std::string* why = nullptr);

}  // namespace mvb::train
