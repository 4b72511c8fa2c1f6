// Times one conv2d kernel (JIT-compiled for the host) on the shapes given on
// the command line; not part of the test suite.
//   conv_bench N C H W O KH KW stride pad [variant] [runs]
// variant: "packed" (buildConv2dPacked with a prepacked weight, as dnnc
// lowers it; the default) or "plain" (buildConv2d). Prints the best and the
// median of the per-run wall time and process CPU time (CPU time is robust
// against other processes taking the cores; divide by the thread count).
// Threads: HL_NUM_THREADS.
#include "ConvKernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace dnnc::kernels;

namespace {


Halide::Buffer<float> buffer(const Shape &s, unsigned seed) {
  Halide::Buffer<float> b(std::vector<int>(s.rbegin(), s.rend()));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  b.for_each_value([&](float &v) { v = dist(gen); });
  return b;
}

void bindInputs(Kernel &k, const std::vector<Halide::Buffer<float>> &inputs) {
  auto params = kernelParameters(k);
  for (size_t i = 0; i < inputs.size(); ++i) {
    params.at(k.arguments[i].name).set_buffer(inputs[i]);
  }
}

double cpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 10) {
    std::fprintf(stderr, "usage: conv_bench N C H W O KH KW stride pad [packed|plain] [runs]\n");
    return 2;
  }
  const int64_t N = std::atoll(argv[1]), C = std::atoll(argv[2]), H = std::atoll(argv[3]),
                W = std::atoll(argv[4]), O = std::atoll(argv[5]), KH = std::atoll(argv[6]),
                KW = std::atoll(argv[7]);
  Conv2dAttrs a;
  a.strideH = a.strideW = std::atoi(argv[8]);
  a.padTop = a.padLeft = a.padBottom = a.padRight = std::atoi(argv[9]);
  const std::string variant = argc > 10 ? argv[10] : "packed";
  const int runs = argc > 11 ? std::atoi(argv[11]) : 30;
  const int64_t OH = (H + 2 * a.padTop - KH) / a.strideH + 1; // (square padding)
  const int64_t OW = (W + 2 * a.padLeft - KW) / a.strideW + 1;
  const Shape x{N, C, H, W}, w{O, C, KH, KW}, out{N, O, OH, OW};
  Halide::Target t = Halide::get_host_target();
  if (std::getenv("CONV_BENCH_PROFILE"))
    t = t.with_feature(Halide::Target::Profile);

  Halide::Buffer<float> xb = buffer(x, 1), wb = buffer(w, 2), bb = buffer({O}, 3);
  // CONV_BENCH_TANH: the epilogue's activation is tanh (LeNet-5) instead of relu.
  const ActivationSpec act{std::getenv("CONV_BENCH_TANH") ? Activation::Tanh : Activation::Relu};
  Kernel k;
  std::vector<Halide::Buffer<float>> inputs;
  if (variant == "plain") {
    k = buildConv2d(x, w, true, a, act, out, t);
    inputs.push_back(xb);
    inputs.push_back(wb);
    inputs.push_back(bb);
  } else {
    const Shape packed = conv2dPackedWeightShape(x, w, a, out);
    Kernel pack = buildConv2dWeightPack(w, packed, t);
    bindInputs(pack, {wb});
    Halide::Buffer<float> pb(std::vector<int>(packed.rbegin(), packed.rend()));
    pack.pipeline.realize(pb, t);
    k = buildConv2dPacked(x, w, packed, true, a, act, out, t);
    inputs.push_back(xb);
    inputs.push_back(pb);
    inputs.push_back(bb);
  }
  bindInputs(k, inputs);
  if (variant != "plain")
    std::printf("%s\n", detail::describeConv2dSchedule(x, w, a, out, t).c_str());
  Halide::Buffer<float> yb(std::vector<int>(out.rbegin(), out.rend()));
  if (const char *stmt = std::getenv("CONV_BENCH_STMT"))
    k.pipeline.compile_to_lowered_stmt(stmt, k.arguments, Halide::Text, t);
  if (const char *as = std::getenv("CONV_BENCH_ASM"))
    k.pipeline.compile_to_assembly(as, k.arguments, "conv", t);
  k.pipeline.compile_jit(t);
  for (int i = 0; i < 3; ++i)
    k.pipeline.realize(yb, t);
  std::vector<double> wall, cpu;
  // CONV_BENCH_FLUSH: overwrite 256 MB before each run, so that weights and
  // input come from memory as in a model (where every layer's data is cold).
  std::vector<float> flush(std::getenv("CONV_BENCH_FLUSH") ? 64 << 20 : 0);
  for (int i = 0; i < runs; ++i) {
    for (size_t j = 0; j < flush.size(); j += 16)
      flush[j] += 1.0f;
    const double c0 = cpuSeconds();
    const auto w0 = std::chrono::steady_clock::now();
    k.pipeline.realize(yb, t);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
    cpu.push_back(cpuSeconds() - c0);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  const double gflop = 2.0 * N * O * OH * OW * C * KH * KW * 1e-9;
  std::printf("%s N=%lld %lldx%lldx%lld -> %lld k%lldx%lld s%d p%d: wall best %.3f med %.3f ms "
              "(%.0f GFLOP/s best); cpu best %.3f med %.3f ms (%.0f GFLOP/s per cpu-second)\n",
              variant.c_str(), (long long)N, (long long)C, (long long)H, (long long)W,
              (long long)O, (long long)KH, (long long)KW, a.strideH, a.padTop, wall[0] * 1e3,
              wall[runs / 2] * 1e3, gflop / wall[0], cpu[0] * 1e3, cpu[runs / 2] * 1e3,
              gflop / cpu[0]);
  return 0;
}
