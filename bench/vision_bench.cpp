// Images per second for decode + CLIP preprocessing (shortest edge 224, bicubic, center crop 224,
// rescale, normalise) of N 512x512 JPEGs: medvlmbench's BatchPrefetcher with W workers against
// python3-pil + numpy doing the same work in one process (tests/oracles/vision/vision_bench_reference.py),
// in the same run. Also prints where the CPU time goes (read, JPEG decode, resize + crop, rescale +
// normalise, single-threaded) and what the threaded pipeline costs beyond that (hand-off, allocation,
// page faults). On a busy machine the wall-clock ratio swings with the load; the CPU-per-image ratio
// is the steadier number.
//
//   ninja bench_vision_bench && ./bench_vision_bench [--images 1000] [--workers 2] [--dir /tmp/x]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/sample_reader.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/prefetch.h"
#include "medvlmbench/vision/resample.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// CPU seconds used by this process (all threads): on a shared, loaded machine wall time says little,
// so both sides also report CPU time per image.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

namespace {

void make_jpegs(const std::string& dir, int n) {
  fs::create_directories(dir);
  std::mt19937 rng(1);
  for (int i = 0; i < n; ++i) {
    const std::string p = dir + "/img" + std::to_string(i) + ".jpg";
    if (fs::exists(p)) continue;
    // Photographic-ish content: gradients, a few shapes and noise (JPEG size ~ real scans).
    cv::Mat m(512, 512, CV_8UC3);
    for (int y = 0; y < 512; ++y)
      for (int x = 0; x < 512; ++x)
        m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>((x + i) % 256), static_cast<uint8_t>((y * 2) % 256),
                                          static_cast<uint8_t>((x + y + rng() % 32) % 256));
    cv::imwrite(p, m, {cv::IMWRITE_JPEG_QUALITY, 90});
  }
}

}  // namespace

int main(int argc, char** argv) {
  int n = 1000, workers = 2;
  std::string dir = (fs::temp_directory_path() / "mvb_vision_bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--images")
      n = std::stoi(argv[i + 1]);
    else if (a == "--workers")
      workers = std::stoi(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
  }
  at::set_num_threads(1);
  make_jpegs(dir, n);

  std::vector<mvb::Sample> samples(n);
  for (int i = 0; i < n; ++i)
    samples[i].images.push_back(mvb::ImageRef::file(dir + "/img" + std::to_string(i) + ".jpg"));
  mvb::ImageTransform t;  // OpenAI CLIP defaults: 224 shortest edge, bicubic, crop 224
  mvb::VectorSampleReader reader(samples);
  const auto t0 = Clock::now();
  const double c0 = cpu_seconds();
  const long f0 = minor_faults();
  double checksum = 0;
  {
    mvb::BatchPrefetcher pf(
        reader, [&](const mvb::Sample& s) { return mvb::load_preprocessed(s.images.front(), t); }, 32, workers);
    std::vector<mvb::PreparedSample> batch;
    while (pf.next(batch))
      for (const auto& p : batch) {
        if (!p.error.empty()) {
          std::cerr << p.error << "\n";
          return 1;
        }
        checksum += p.pixels[0][100][100].item<float>();
      }
  }
  const double cpp_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpp_cpu = cpu_seconds() - c0;
  const double faults_per_image = static_cast<double>(minor_faults() - f0) / n;

  // Where the time goes, single-threaded, phase by phase over the first images (CPU time).
  double phase_sum = 0;
  {
    const int m = std::min(n, 200);
    std::vector<std::shared_ptr<const std::string>> files(m);
    auto per_image = [m](double c) { return 1e3 * (cpu_seconds() - c) / m; };
    double c = cpu_seconds();
    for (int i = 0; i < m; ++i)
      files[i] = std::make_shared<const std::string>(mvb::io::read_file(dir + "/img" + std::to_string(i) + ".jpg"));
    const double read_ms = per_image(c);
    mvb::RgbImage img;
    c = cpu_seconds();
    for (int i = 0; i < m; ++i) mvb::decode_image_into(mvb::ImageRef{"bench", files[i], nullptr}, img);
    const double decode_ms = per_image(c);
    const auto [rw, rh] = mvb::resized_size(img.width, img.height, t);
    std::vector<uint8_t> window(224 * 224 * 3);
    c = cpu_seconds();
    for (int i = 0; i < m; ++i)
      mvb::pil_resize_window(mvb::RgbView{img.pixels.data(), img.width, img.height}, rw, rh, mvb::Resample::kBicubic,
                             (rw - 224) / 2, (rh - 224) / 2, 224, 224, window.data());
    const double resize_ms = per_image(c);
    mvb::RgbImage cropped{224, 224, window};
    c = cpu_seconds();
    for (int i = 0; i < m; ++i) checksum += mvb::to_normalized_tensor(cropped, t)[0][0][0].item<float>() * 0;
    const double tensor_ms = per_image(c);
    phase_sum = read_ms + decode_ms + resize_ms + tensor_ms;
    std::printf(
        "single thread, ms CPU per image: read %.3f, JPEG decode %.3f, resize+crop %.3f, rescale+normalise %.3f; "
        "sum %.3f\n",
        read_ms, decode_ms, resize_ms, tensor_ms, phase_sum);
  }
  // The same work in python3-pil + numpy: tests/oracles/vision/vision_bench_reference.py.
  if (std::string(MVB_SYSTEM_PYTHON).empty()) {
    std::cerr << "bench_vision_bench: /usr/bin/python3 is absent; install the reference with `sudo apt-get install "
                 "python3 python3-pil python3-numpy`\n";
    return 1;
  }
  const std::string cmd = std::string(MVB_SYSTEM_PYTHON) + " " + MVB_SOURCE_DIR +
                          "/tests/oracles/vision/vision_bench_reference.py " + dir + " " + std::to_string(n);
  FILE* f = popen(cmd.c_str(), "r");
  double py_s = -1, py_cpu = -1, py_sum = 0;
  if (!f || std::fscanf(f, "%lf %lf %lf", &py_s, &py_cpu, &py_sum) != 3) {
    std::cerr << "python3-pil reference failed (needs /usr/bin/python3 with python3-pil and python3-numpy)\n";
    return 1;
  }
  double py_decode = -1, py_resize = -1, py_numpy = -1;
  if (std::fscanf(f, "%lf %lf %lf", &py_decode, &py_resize, &py_numpy) != 3) {
    std::cerr << "python3-pil reference printed no phase times\n";
    return 1;
  }
  pclose(f);
  std::printf("images: %d (512x512 JPEG), CLIP preprocessing 224\n", n);
  std::printf("medvlmbench (%d workers): %.3f s wall, %.1f images/s; %.2f ms CPU per image\n", workers, cpp_s,
              n / cpp_s, 1e3 * cpp_cpu / n);
  std::printf("python3-pil + numpy (1 process): %.3f s wall, %.1f images/s; %.2f ms CPU per image\n", py_s, n / py_s,
              1e3 * py_cpu / n);
  std::printf(
      "python3-pil, single thread, ms CPU per image: open+decode %.3f, resize %.3f, rescale+normalise (numpy) %.3f\n",
      py_decode, py_resize, py_numpy);
  std::printf(
      "pipeline overhead beyond the phases (threads, handoff, allocation): %.3f ms CPU per image; %.1f page faults "
      "per image\n",
      1e3 * cpp_cpu / n - phase_sum, faults_per_image);
  std::printf("speed-up (wall, images/s): %.2fx; CPU per image: %.2fx less   (checksums: %.4f vs %.4f)\n", py_s / cpp_s,
              py_cpu / cpp_cpu, checksum, py_sum);
  return 0;
}
