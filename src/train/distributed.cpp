#include "medvlmbench/train/distributed.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "distributed_backend.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"

namespace mvb::train {

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<detail::Collectives> group;
  c10::Device device = c10::Device(c10::kCPU);
  const char* backend = "none";

  void wait(c10::intrusive_ptr<c10d::Work> work) const { work->wait(); }
};

namespace {

std::string first_line(const std::string& s) {
  const std::string line = s.substr(0, s.find('\n'));
  return line.empty() ? "unknown error" : line;
}

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// Consecutive runs of same-dtype, same-device tensors of at most kBucketBytes (a larger tensor is a
// bucket of its own). Every rank walks the same list in the same order, so the buckets line up.
std::vector<std::vector<at::Tensor>> buckets(const std::vector<at::Tensor>& ts) {
  std::vector<std::vector<at::Tensor>> out;
  int64_t bytes = 0;
  for (const auto& t : ts) {
    const int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    const bool fits = !out.empty() && out.back().front().scalar_type() == t.scalar_type() &&
                      out.back().front().device() == t.device() && bytes + b <= DataParallel::kBucketBytes;
    if (!fits) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(t);
    bytes += b;
  }
  return out;
}

at::Tensor flatten(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> flat;
  flat.reserve(ts.size());
  for (const auto& t : ts) flat.push_back(t.reshape({-1}));
  return flat.size() == 1 ? flat[0].clone() : at::cat(flat);
}

void unflatten_into(const at::Tensor& flat, const std::vector<at::Tensor>& ts) {
  int64_t off = 0;
  for (const auto& t : ts) {
    t.copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
    off += t.numel();
  }
}

}  // namespace

double DataParallel::collective_timeout_s(const LaunchEnv& env) { return std::max(1800.0, env.timeout_s); }

bool distributed_backend_available(c10::Device device, std::string* why) {
  return device.is_cuda() ? detail::nccl_compiled(why) : detail::gloo_compiled(why);
}

DataParallel::DataParallel(const LaunchEnv& env, c10::Device device)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), world_size_(env.world_size) {
  impl_->device = device;
  if (!active()) return;
  std::string why;
  MVB_CHECK(distributed_backend_available(device, &why), "cannot train data parallel (", env.describe(), ") on ",
            device.str(), ": ", why);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env.master_port);
    o.isServer = env.rank == 0;
    o.numWorkers = static_cast<std::size_t>(env.world_size);
    // Not the store's own wait for workers: LibTorch 1.13 gives up on it silently, and Gloo would then
    // wait for the missing rank for the collective timeout. The count below is bounded and says so.
    o.waitWorkers = false;
    o.timeout = ms(env.timeout_s);
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    impl_->store->add("mvb/joined", 1);
    for (int64_t joined = 0;;) {
      joined = impl_->store->add("mvb/joined", 0);
      if (joined >= env.world_size) break;
      if (std::chrono::steady_clock::now() - t0 > ms(env.timeout_s))
        throw std::runtime_error(::mvb::detail::concat("only ", joined, " of ", env.world_size, " ranks joined within ",
                                                       env.timeout_s, " s"));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto ct = ms(collective_timeout_s(env));
    if (device.is_cuda()) {
      impl_->group = detail::make_nccl(impl_->store, env.rank, env.world_size, ct);
      impl_->backend = "nccl";
    } else {
      impl_->group = detail::make_gloo(impl_->store, env.rank, env.world_size, ct);
      impl_->backend = "gloo";
    }
  } catch (const mvb::Error&) {
    throw;
  } catch (const std::exception& e) {
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    throw Error(::mvb::detail::concat(
        "distributed rendezvous failed for ", env.describe(), " after ", static_cast<int>(took + 0.5),
        " s (MVB_DIST_TIMEOUT=", env.timeout_s, " s): ", first_line(e.what()),
        "; check that rank 0 is running and that MASTER_ADDR:MASTER_PORT is reachable from "
        "every node and not used by another job"));
  }
  // Every rank is connected once the first collective returns.
  barrier();
  spdlog::info("data parallel: {} joined ({} backend) in {:.1f} s", env.describe(), impl_->backend,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

DataParallel::~DataParallel() = default;

const char* DataParallel::backend() const { return impl_->backend; }

std::pair<int64_t, int64_t> DataParallel::shard(int64_t from, int64_t per_rank, int64_t n) const {
  const int64_t b = std::min(n, from + static_cast<int64_t>(rank_) * per_rank);
  return {b, std::min(n, b + per_rank)};
}

void DataParallel::broadcast(const std::vector<at::Tensor>& tensors) {
  if (!active() || tensors.empty()) return;
  at::NoGradGuard no_grad;
  for (const auto& bucket : buckets(tensors)) {
    std::vector<at::Tensor> flat = {flatten(bucket)};
    c10d::BroadcastOptions o;
    o.rootRank = 0;
    impl_->wait(impl_->group->broadcast(flat, o));
    unflatten_into(flat[0], bucket);
  }
}

void DataParallel::average_gradients(const std::vector<at::Tensor>& params) {
  if (!active() || params.empty()) return;
  at::NoGradGuard no_grad;
  std::vector<double> has(params.size());
  for (size_t i = 0; i < params.size(); ++i) has[i] = params[i].grad().defined() ? 1.0 : 0.0;
  has = sum(std::move(has));
  std::vector<at::Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    if (has[i] == 0) continue;
    at::Tensor p = params[i];
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  for (const auto& bucket : buckets(grads)) {
    std::vector<at::Tensor> flat = {flatten(bucket)};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    impl_->wait(impl_->group->allreduce(flat, o));
    flat[0].div_(static_cast<double>(world_size_));
    unflatten_into(flat[0], bucket);
  }
}

std::vector<double> DataParallel::sum(std::vector<double> values) {
  if (!active() || values.empty()) return values;
  std::vector<at::Tensor> t = {at::tensor(values, at::TensorOptions().dtype(at::kDouble)).to(impl_->device)};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  impl_->wait(impl_->group->allreduce(t, o));
  const at::Tensor back = t[0].to(at::kCPU).contiguous();
  return std::vector<double>(back.data_ptr<double>(), back.data_ptr<double>() + back.numel());
}

void DataParallel::barrier() {
  // A one-element all-reduce: the same on Gloo and NCCL (NCCL's barrier has to guess a device).
  if (active()) sum({0.0});
}

}  // namespace mvb::train
