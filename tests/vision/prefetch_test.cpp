// BatchPrefetcher: parallel decode/preprocess with ordered output, a bounded number of samples in
// flight, and per-sample errors instead of a stopped run.
#include "medvlmbench/vision/prefetch.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <thread>

#include "medvlmbench/vision/image.h"
#include "support/test_support.h"

using namespace mvb;
using mvb::test::TempDir;

TEST(BatchPrefetcher, OrderedBoundedAndPerSampleErrors) {
  TempDir d;
  cv::Mat m(20, 30, CV_8UC3, cv::Scalar(10, 20, 30));
  cv::imwrite(d / "ok.png", m);
  std::vector<Sample> samples;
  for (int i = 0; i < 57; ++i) {
    Sample s;
    s.id = std::to_string(i);
    s.images.push_back(ImageRef::file(i % 10 == 3 ? d / "missing.png" : d / "ok.png"));
    if (i == 20) s.error = "annotation row 20 is malformed";
    samples.push_back(s);
  }
  VectorSampleReader reader(samples);
  std::atomic<int> started{0};
  ImageTransform t;
  t.resize = 16;
  t.crop = 16;
  const int batch = 5, depth = 2;
  BatchPrefetcher pf(
      reader,
      [&](const Sample& s) {
        ++started;
        // Uneven work so completion order differs from input order.
        std::this_thread::sleep_for(std::chrono::microseconds((std::stoi(s.id) * 7919) % 3000));
        return preprocess(decode_image(s.images.front()), t);
      },
      batch, /*num_workers=*/4, depth);
  std::vector<PreparedSample> out;
  int consumed = 0, errors = 0;
  while (pf.next(out)) {
    EXPECT_LE(static_cast<int>(out.size()), batch);
    for (const auto& p : out) {
      EXPECT_EQ(p.sample.id, std::to_string(consumed)) << "output order must equal input order";
      const int i = consumed++;
      if (i == 20) {
        EXPECT_EQ(p.error, "annotation row 20 is malformed");
        ++errors;
      } else if (i % 10 == 3) {
        EXPECT_NE(p.error.find("missing image"), std::string::npos) << p.error;
        EXPECT_FALSE(p.pixels.defined());
        ++errors;
      } else {
        ASSERT_TRUE(p.error.empty()) << p.error;
        EXPECT_EQ(p.pixels.sizes(), (at::IntArrayRef{3, 16, 16}));
      }
    }
    // Never more than batch * depth samples prepared ahead of the consumer.
    EXPECT_LE(started.load() - consumed, batch * depth);
  }
  EXPECT_EQ(consumed, 57);
  EXPECT_EQ(errors, 7);  // 3, 13, 23, 33, 43, 53 and 20
}
