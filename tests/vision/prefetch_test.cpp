// BatchPrefetcher: parallel decode/preprocess with ordered output, a bounded number of samples in
// flight, and per-sample errors instead of a stopped run.
#include "medvlmbench/vision/prefetch.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
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

// A dataset row that names a folder (SLAKE's "xmlab0" for "xmlab0/source.jpg"), a zero-byte file or a
// file the process may not read is a one-line per-sample error naming the path and what to fix, not a
// C++ library message ("basic_string::_M_replace_aux" was what a folder gave).
TEST(BatchPrefetcher, FolderEmptyAndUnreadableImagesAreNamedErrors) {
  TempDir d;
  std::filesystem::create_directories(d / "xmlab0");
  cv::imwrite(d / "xmlab0/source.png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)));
  { std::ofstream(d / "empty.jpg"); }
  cv::imwrite(d / "locked.png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)));
  std::filesystem::permissions(d / "locked.png", std::filesystem::perms::none);
  // root reads a file whatever its mode bits say, so the unreadable case only exists for other users.
  std::ifstream probe(d / "locked.png");
  const bool locked_is_unreadable = !probe.good();
  probe.close();
  std::vector<Sample> samples;
  for (const std::string name : {"xmlab0", "empty.jpg", "locked.png", "xmlab0/source.png"}) {
    Sample s;
    s.id = name;
    s.images.push_back(ImageRef::file(d / name));
    samples.push_back(s);
  }
  VectorSampleReader reader(samples);
  ImageTransform t;
  t.resize = 8;
  t.crop = 8;
  BatchPrefetcher pf(
      reader, [&](const Sample& s) { return preprocess(decode_image(s.images.front()), t); }, /*batch_size=*/4,
      /*num_workers=*/2);
  std::vector<PreparedSample> out;
  ASSERT_TRUE(pf.next(out));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].error, "image " + (d / "xmlab0") +
                              " is a directory, not an image file; check --image_path and the dataset's image names");
  EXPECT_EQ(out[1].error, "image " + (d / "empty.jpg") +
                              " is an empty file (0 bytes), not an image; re-copy or re-export it, or drop the sample");
  if (locked_is_unreadable) {
    EXPECT_EQ(out[2].error,
              "cannot read image " + (d / "locked.png") + ": Permission denied; check the file's permissions");
  } else {
    EXPECT_TRUE(out[2].error.empty()) << out[2].error;
  }
  EXPECT_TRUE(out[3].error.empty()) << out[3].error;
  for (const auto& p : out) EXPECT_EQ(p.error.find('\n'), std::string::npos) << p.error;
}
