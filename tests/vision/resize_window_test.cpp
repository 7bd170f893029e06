// pil_resize_window computes only part of a resize (the center crop of CLIP-style processors):
// every window must equal the same part of the full resize, which the PIL parity tests pin to PIL.
// Also the recycled output tensors of the preprocessing path.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>

#include "medvlmbench/core/error.h"
#include "medvlmbench/vision/resample.h"
#include "medvlmbench/vision/tensor_pool.h"

using namespace mvb;

TEST(ResizeWindow, EqualsTheSamePartOfTheFullResize) {
  std::mt19937 rng(9);
  const Resample filters[] = {Resample::kNearest, Resample::kBilinear, Resample::kBicubic,
                              Resample::kLanczos, Resample::kBox,      Resample::kHamming};
  for (int i = 0; i < 120; ++i) {
    RgbImage img;
    img.width = 1 + static_cast<int>(rng() % 180);
    img.height = 1 + static_cast<int>(rng() % 180);
    img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
    for (auto& p : img.pixels) p = static_cast<uint8_t>(rng());
    // Down, up, one axis unchanged (single-pass resizes) and the identity.
    const int mode = i % 4;
    const int w = mode == 3 ? img.width : 1 + static_cast<int>(rng() % 200);
    const int h = mode == 2 || mode == 3 ? img.height : 1 + static_cast<int>(rng() % 200);
    const Resample f = filters[i % 6];
    const RgbImage full = pil_resize(img, w, h, f);
    const int ww = 1 + static_cast<int>(rng() % w), wh = 1 + static_cast<int>(rng() % h);
    const int x0 = static_cast<int>(rng() % (w - ww + 1)), y0 = static_cast<int>(rng() % (h - wh + 1));
    std::vector<uint8_t> win(static_cast<size_t>(ww) * wh * 3);
    pil_resize_window(RgbView{img.pixels.data(), img.width, img.height}, w, h, f, x0, y0, ww, wh, win.data());
    SCOPED_TRACE(std::to_string(img.width) + "x" + std::to_string(img.height) + " -> " + std::to_string(w) + "x" +
                 std::to_string(h) + " window " + std::to_string(x0) + "," + std::to_string(y0) + " " +
                 std::to_string(ww) + "x" + std::to_string(wh) + " filter " + resample_name(f));
    int mismatches = 0;
    for (int y = 0; y < wh; ++y)
      for (int x = 0; x < ww * 3; ++x)
        mismatches +=
            win[static_cast<size_t>(y) * ww * 3 + x] != full.pixels[(static_cast<size_t>(y0 + y) * w + x0) * 3 + x];
    EXPECT_EQ(mismatches, 0);
  }
  std::vector<uint8_t> out(12);
  RgbImage img{4, 4, std::vector<uint8_t>(48, 7)};
  EXPECT_THROW(pil_resize_window(RgbView{img.pixels.data(), 4, 4}, 8, 8, Resample::kBicubic, 6, 0, 4, 1, out.data()),
               Error);
}

// Model-input tensors recycle their memory (tensor_pool.h): a freed block is handed out again,
// live tensors never share memory, and small tensors are plain allocations.
TEST(TensorPool, RecyclesFreedBlocksAndNeverSharesLiveOnes) {
  const void* first = nullptr;
  {
    at::Tensor a = pooled_float_tensor({3, 224, 224});
    a.fill_(1.5f);
    first = a.data_ptr();
    at::Tensor b = pooled_float_tensor({3, 224, 224});
    EXPECT_NE(b.data_ptr(), first);
    EXPECT_EQ(b.sizes(), (std::vector<int64_t>{3, 224, 224}));
    EXPECT_EQ(b.scalar_type(), at::kFloat);
    EXPECT_TRUE(b.is_contiguous());
    EXPECT_FLOAT_EQ(a[2][223][223].item<float>(), 1.5f);
  }
  at::Tensor c = pooled_float_tensor({3, 224, 224});
  at::Tensor d = pooled_float_tensor({3, 224, 224});
  EXPECT_TRUE(c.data_ptr() == first || d.data_ptr() == first);
  EXPECT_EQ(pooled_float_tensor({3, 4, 4}).numel(), 48);
}
