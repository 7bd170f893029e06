#include "medvlmbench/nn/blas_kernels.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "medvlmbench/nn/cpu_threads.h"

namespace mvb::nn {
namespace {

// CBLAS as OpenBLAS exports it (32-bit integers: Debian's libopenblas0; the 64-bit-integer build names its
// symbols with a 64_ suffix and is not what LibTorch links). Found at run time, as cpu_threads.cpp finds
// openblas_set_num_threads: the library is whatever LibTorch loaded, and a build without it has none.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using Sgemv = void (*)(int, int, int, int, float, const float*, int, const float*, int, float, float*, int);

struct Cblas {
  Sgemm sgemm = nullptr;
  Sgemv sgemv = nullptr;
};

const Cblas& cblas() {
  static const Cblas c = [] {
    Cblas out;
    if (openblas_threads() == 0) return out;  // only OpenBLAS: another BLAS may thread differently
    out.sgemm = reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
    out.sgemv = reinterpret_cast<Sgemv>(dlsym(RTLD_DEFAULT, "cblas_sgemv"));
    return out;
  }();
  return c;
}

bool fits_int(std::initializer_list<int64_t> values) {
  return std::all_of(values.begin(), values.end(), [](int64_t v) { return v >= 0 && v <= INT_MAX; });
}

// Below this many multiply-adds one thread does the whole product (a parallel region costs ~10 us).
constexpr int64_t kSplitMinMacs = int64_t{1} << 16;
// Output blocks are multiples of this many features (whole SIMD registers for the kernels' edges).
constexpr int64_t kColumnAlign = 16;

// softmax over one row of n scores, in place (max subtracted first, as at::softmax does).
void softmax_row(float* row, int64_t n) {
  float max = row[0];
  for (int64_t j = 1; j < n; ++j) max = std::max(max, row[j]);
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += (row[j] = std::exp(row[j] - max));
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) row[j] *= inv;
}

// Blocks of at least this many scores go through at::softmax (Sleef's vectorised exp); smaller ones through
// softmax_row, where an ATen call costs more than it saves.
constexpr int64_t kAtenSoftmaxMinScores = 4096;

}  // namespace

bool blas_kernels_available() {
  const Cblas& c = cblas();
  return c.sgemm != nullptr && c.sgemv != nullptr && !at::hasMKL();
}

int blas_kernels_split() {
  // With more than one OpenBLAS thread per call (OMP_NUM_THREADS or OPENBLAS_NUM_THREADS set by the user,
  // or configure_cpu_threads() not called) OpenBLAS threads each call itself, and a split would nest pools.
  if (openblas_threads() != 1) return 1;
  return std::max(1, at::get_num_threads());
}

int blas_kernels_parallel_threads() {
  const int64_t n = blas_kernels_split();
  std::vector<int> seen(n, -1);
  at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) seen[i] = at::get_thread_num();
  });
  std::sort(seen.begin(), seen.end());
  return static_cast<int>(std::unique(seen.begin(), seen.end()) - seen.begin());
}

at::Tensor blas_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t in = weight.size(1), out = weight.size(0);
  const at::Tensor rows = x.reshape({-1, in}).contiguous();
  const int64_t m = rows.size(0);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out;
  if (!fits_int({m, in, out, m * out})) return at::linear(x, weight, bias);
  at::Tensor y = at::empty({m, out}, x.options());
  if (m == 0 || out == 0) return y.view(shape);
  const Cblas& blas = cblas();
  const float* X = rows.data_ptr<float>();
  const float* W = weight.data_ptr<float>();
  const float* B = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* Y = y.data_ptr<float>();
  const int64_t blocks = m * in * out < kSplitMinMacs
                             ? 1
                             : std::max<int64_t>(1, std::min<int64_t>(blas_kernels_split(), out / kColumnAlign));
  // Block p holds output features [edge(p), edge(p + 1)), edges rounded to kColumnAlign.
  auto edge = [&](int64_t p) { return p == blocks ? out : (out * p / blocks) / kColumnAlign * kColumnAlign; };
  at::parallel_for(0, blocks, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = edge(p), nb = edge(p + 1) - n0;
      if (nb <= 0) continue;
      float beta = 0;
      if (B != nullptr) {
        for (int64_t r = 0; r < m; ++r) std::memcpy(Y + r * out + n0, B + n0, nb * sizeof(float));
        beta = 1;
      }
      if (m <= 3) {
        // OpenBLAS 0.3.21's sgemm packs the whole weight block even for one row; sgemv reads it in place.
        for (int64_t r = 0; r < m; ++r)
          blas.sgemv(kRowMajor, kNoTrans, static_cast<int>(nb), static_cast<int>(in), 1.0f, W + n0 * in,
                     static_cast<int>(in), X + r * in, 1, beta, Y + r * out + n0, 1);
      } else {
        blas.sgemm(kRowMajor, kNoTrans, kTrans, static_cast<int>(m), static_cast<int>(nb), static_cast<int>(in), 1.0f,
                   X, static_cast<int>(in), W + n0 * in, static_cast<int>(in), beta, Y + n0, static_cast<int>(out));
      }
    }
  });
  return y.view(shape);
}

bool blas_attention_applies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  if (at::GradMode::is_enabled() || !blas_kernels_available()) return false;
  for (const at::Tensor* t : {&q, &k, &v})
    if (!t->defined() || t->dim() != 4 || !t->device().is_cpu() || t->scalar_type() != at::kFloat || t->stride(3) != 1)
      return false;
  const int64_t b = q.size(0), h = q.size(1), l = q.size(2), d = q.size(3);
  const int64_t kvh = k.size(1), s = k.size(2);
  if (k.size(0) != b || v.size(0) != b || v.size(1) != kvh || v.size(2) != s || k.size(3) != d || v.size(3) != d)
    return false;
  if (kvh == 0 || h % kvh != 0 || s == 0 || l == 0) return false;
  if (!fits_int({q.stride(2), k.stride(2), v.stride(2), l, s, d, h * d, l * s})) return false;
  if (mask.defined()) {
    if (!mask.device().is_cpu() || mask.scalar_type() != at::kFloat || mask.dim() > 4) return false;
    const std::vector<int64_t> want = {b, 1, l, s};
    for (int64_t i = 0; i < mask.dim(); ++i) {
      const int64_t size = mask.size(mask.dim() - 1 - i), full = want[3 - i];
      if (size != full && size != 1) return false;
    }
  }
  return true;
}

at::Tensor blas_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                          double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3);
  const int64_t KV = k.size(1), S = k.size(2), groups = H / KV;
  at::Tensor out = at::empty({B, L, H, D}, q.options());
  // The mask as [B, 1, L, S] strides (0 where broadcast), its rows contiguous.
  at::Tensor m;
  if (mask.defined()) {
    m = mask.expand({B, 1, L, S});
    if (m.stride(3) != 1 && S > 1) m = m.contiguous();
  }
  const float* M = m.defined() ? m.data_ptr<float>() : nullptr;
  const int64_t ms0 = m.defined() ? m.stride(0) : 0, ms2 = m.defined() ? m.stride(2) : 0;
  const float* Q = q.data_ptr<float>();
  const float* K = k.data_ptr<float>();
  const float* V = v.data_ptr<float>();
  float* O = out.data_ptr<float>();
  const Cblas& blas = cblas();
  const auto alpha = static_cast<float>(scale);
  auto q_of = [&](int64_t b, int64_t h) { return Q + b * q.stride(0) + h * q.stride(1); };
  auto k_of = [&](int64_t b, int64_t h) { return K + b * k.stride(0) + (h / groups) * k.stride(1); };
  auto v_of = [&](int64_t b, int64_t h) { return V + b * v.stride(0) + (h / groups) * v.stride(1); };
  auto o_of = [&](int64_t b, int64_t h) { return O + (b * L * H + h) * D; };  // row i at + i * H * D
  auto add_mask = [&](float* scores, int64_t b) {
    if (M == nullptr) return;
    for (int64_t i = 0; i < L; ++i) {
      const float* mask_row = M + b * ms0 + i * ms2;
      float* row = scores + i * S;
      for (int64_t j = 0; j < S; ++j) row[j] += mask_row[j];
    }
  };
  // Rows of scores [rows, S] to probabilities: in place (small blocks) or into probs; returns where they are.
  auto softmax_rows = [&](float* scores, float* probs, int64_t rows) -> const float* {
    if (rows * S < kAtenSoftmaxMinScores) {
      for (int64_t r = 0; r < rows; ++r) softmax_row(scores + r * S, S);
      return scores;
    }
    // Sleef's vectorised exp; inside the parallel region ATen runs it on this thread alone.
    at::Tensor in = at::from_blob(scores, {rows, S}), res = at::from_blob(probs, {rows, S});
    at::_softmax_out(res, in, -1, /*half_to_float=*/false);
    return probs;
  };
  // One chunk of (sequence, head) tasks per thread, or all on this thread when OpenBLAS threads itself.
  const int64_t grain = (B * H + blas_kernels_split() - 1) / blas_kernels_split();
  if (L == 1) {
    // Token-by-token decoding: per head two matrix-vector products; the softmax of a thread's heads is one call.
    at::parallel_for(0, B * H, grain, [&](int64_t t0, int64_t t1) {
      const int64_t n = t1 - t0;
      std::vector<float> scores(n * S), probs(n * S);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / H, h = t % H;
        float* row = scores.data() + (t - t0) * S;
        blas.sgemv(kRowMajor, kNoTrans, static_cast<int>(S), static_cast<int>(D), alpha, k_of(b, h),
                   static_cast<int>(k.stride(2)), q_of(b, h), 1, 0.0f, row, 1);
        add_mask(row, b);
      }
      const float* p = softmax_rows(scores.data(), probs.data(), n);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / H, h = t % H;
        blas.sgemv(kRowMajor, kTrans, static_cast<int>(S), static_cast<int>(D), 1.0f, v_of(b, h),
                   static_cast<int>(v.stride(2)), p + (t - t0) * S, 1, 0.0f, o_of(b, h), 1);
      }
    });
    return out.transpose(1, 2);
  }
  at::parallel_for(0, B * H, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> scores(L * S), probs(L * S);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / H, h = t % H;
      // scores = q k^T * scale (+ mask), probs = softmax(scores), out = probs v
      blas.sgemm(kRowMajor, kNoTrans, kTrans, static_cast<int>(L), static_cast<int>(S), static_cast<int>(D), alpha,
                 q_of(b, h), static_cast<int>(q.stride(2)), k_of(b, h), static_cast<int>(k.stride(2)), 0.0f,
                 scores.data(), static_cast<int>(S));
      add_mask(scores.data(), b);
      const float* p = softmax_rows(scores.data(), probs.data(), L);
      blas.sgemm(kRowMajor, kNoTrans, kNoTrans, static_cast<int>(L), static_cast<int>(D), static_cast<int>(S), 1.0f, p,
                 static_cast<int>(S), v_of(b, h), static_cast<int>(v.stride(2)), 0.0f, o_of(b, h),
                 static_cast<int>(H * D));
    }
  });
  return out.transpose(1, 2);
}

}  // namespace mvb::nn
