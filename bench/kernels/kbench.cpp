// kbench: times single dnnc kernels (JIT-compiled for the host) on the
// shapes of the model zoo. Not part of the test suite; run by hand:
//   HL_NUM_THREADS=1 build/bin/kbench mbv2-dw         # MobileNetV2 depthwise layers
//   HL_NUM_THREADS=2 build/bin/kbench dense 32 784 256
// Each case prints the best and the median per-call time over several
// timed batches of calls (the host is shared and noisy: compare best-of
// numbers, interleave A/B runs) and GFLOP/s from the best time.
#include "ConvKernels.h"
#include "GradKernels.h"
#include "Kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <time.h>

using namespace dnnc::kernels;
using Halide::Buffer;

namespace {

std::vector<int> halideSizes(const Shape &s, int64_t batch) {
  std::vector<int> r;
  for (auto it = s.rbegin(); it != s.rend(); ++it)
    r.push_back(static_cast<int>(*it == kDynamic ? batch : *it));
  return r;
}


struct Case {
  std::string name;
  double flops; // per call
  std::function<Kernel()> build;
  std::vector<Shape> inputs; // concrete shapes (batch resolved)
  Shape out;
};

void timeCase(const Case &c) {
  Kernel k = c.build();
  auto params = kernelParameters(k);
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<Buffer<float>> bufs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Buffer<float> b(halideSizes(c.inputs[i], 1));
    b.for_each_value([&](float &v) { v = dist(gen); });
    bufs.push_back(b);
    params.at(k.arguments[i].name).set_buffer(bufs.back());
  }
  Buffer<float> out(halideSizes(c.out, 1));
  Halide::Target t = Halide::get_host_target();
  if (const char *stmt = std::getenv("KBENCH_STMT")) {
    k.pipeline.compile_to_lowered_stmt(stmt, k.arguments, Halide::Text, t);
    k.pipeline.compile_to_assembly(std::string(stmt) + ".s", k.arguments, "kernel",
                                   t.with_feature(Halide::Target::NoRuntime));
  }
  k.pipeline.compile_jit(t);
  auto once = [&] { k.pipeline.realize(out, t); };
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i)
    once();
  // Calls per batch: ~20 ms worth.
  auto t0 = Clock::now();
  once();
  double one = std::chrono::duration<double>(Clock::now() - t0).count();
  int per = std::max(1, static_cast<int>(0.02 / std::max(one, 1e-7)));
  // Process CPU time as well: on this shared host the wall time of a
  // 1-thread run includes time slices given to other processes, the CPU
  // time does not (with 1 thread it is the kernel's own time).
  auto cpuNow = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  };
  std::vector<double> samples, cpu;
  for (int rep = 0; rep < 15; ++rep) {
    auto s = Clock::now();
    double c0 = cpuNow();
    for (int i = 0; i < per; ++i)
      once();
    cpu.push_back((cpuNow() - c0) / per);
    samples.push_back(std::chrono::duration<double>(Clock::now() - s).count() / per);
  }
  std::sort(samples.begin(), samples.end());
  std::sort(cpu.begin(), cpu.end());
  double best = samples.front(), median = samples[samples.size() / 2];
  std::printf("%-34s best %8.4f ms  med %8.4f ms  cpu %8.4f ms  %6.1f GFLOP/s (cpu %6.1f)\n",
              c.name.c_str(), best * 1e3, median * 1e3, cpu[cpu.size() / 2] * 1e3,
              c.flops / best * 1e-9, c.flops / cpu[cpu.size() / 2] * 1e-9);
  std::fflush(stdout);
}

Case depthwise(int64_t N, int64_t C, int64_t H, int64_t W, int K, int s) {
  Conv2dAttrs a;
  a.strideH = a.strideW = s;
  const int pad = std::getenv("KBENCH_NOPAD") ? 0 : K / 2;
  a.padTop = a.padLeft = a.padBottom = a.padRight = pad;
  a.groups = static_cast<int>(C);
  int64_t OH = (H + 2 * pad - K) / s + 1, OW = (W + 2 * pad - K) / s + 1;
  Shape x{N, C, H, W}, w{C, 1, K, K}, out{N, C, OH, OW};
  ActivationSpec act{Activation::Relu6};
  Case c{"dw N" + std::to_string(N) + " C" + std::to_string(C) + " " + std::to_string(H) + "x" +
             std::to_string(W) + " k" + std::to_string(K) + " s" + std::to_string(s),
         2.0 * N * C * OH * OW * K * K,
         [=] {
           return std::getenv("KBENCH_OLD")
                      ? buildConv2d(x, w, true, a, act, out, Halide::get_host_target())
                      : buildDepthwiseConv2d(x, w, true, a, act, out, Halide::get_host_target());
         },
         {x, w, {C}},
         out};
  return c;
}

Case conv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int K, int s, bool relu6) {
  Conv2dAttrs a;
  a.strideH = a.strideW = s;
  a.padTop = a.padLeft = a.padBottom = a.padRight = K / 2;
  int64_t OH = (H + 2 * (K / 2) - K) / s + 1, OW = (W + 2 * (K / 2) - K) / s + 1;
  Shape x{N, C, H, W}, w{O, C, K, K}, out{N, O, OH, OW};
  ActivationSpec act{relu6 ? Activation::Relu6 : Activation::None};
  Case c{"conv N" + std::to_string(N) + " " + std::to_string(C) + "->" + std::to_string(O) + " " +
             std::to_string(H) + "x" + std::to_string(W) + " k" + std::to_string(K) + " s" +
             std::to_string(s),
         2.0 * N * C * O * OH * OW * K * K,
         [=] { return buildConv2d(x, w, true, a, act, out, Halide::get_host_target()); },
         {x, w, {O}},
         out};
  return c;
}

Case pointwise(int64_t N, int64_t C, int64_t P, int64_t O) {
  Shape x{N, C, P}, w{O, C}, out{N, O, P};
  Shape xk = x, outk = out;
  if (std::getenv("KBENCH_DYN"))
    xk[0] = outk[0] = kDynamic;
  return Case{"pointwise N" + std::to_string(N) + " " + std::to_string(C) + "->" +
                  std::to_string(O) + " P" + std::to_string(P),
              2.0 * N * C * O * P,
              [=] {
                return buildPointwiseConv(xk, w, true, ActivationSpec{Activation::Relu6}, outk,
                                          Halide::get_host_target());
              },
              {x, w, {O}},
              out};
}

Case pointwisePacked(int64_t N, int64_t C, int64_t P, int64_t O) {
  Shape x{N, C, P}, w{O, C}, out{N, O, P};
  Shape packed = densePackedWeightShape(w);
  Shape xk = x, outk = out;
  if (std::getenv("KBENCH_DYN"))
    xk[0] = outk[0] = kDynamic;
  return Case{"pointwise(packed) N" + std::to_string(N) + " " + std::to_string(C) + "->" +
                  std::to_string(O) + " P" + std::to_string(P),
              2.0 * N * C * O * P,
              [=] {
                return buildPointwiseConvPacked(xk, w, packed, true,
                                                ActivationSpec{Activation::Relu6}, outk,
                                                Halide::get_host_target());
              },
              {x, packed, {O}},
              out};
}

Case dense(int64_t N, int64_t in, int64_t units, bool relu) {
  Shape x{N, in}, w{units, in}, out{N, units};
  ActivationSpec act{relu ? Activation::Relu : Activation::None};
  if (std::getenv("KBENCH_OLD"))
    return Case{"dense(old) N" + std::to_string(N) + " " + std::to_string(in) + "->" +
                    std::to_string(units),
                2.0 * N * in * units,
                [=] { return buildDense(x, w, true, act, out, Halide::get_host_target()); },
                {x, w, {units}},
                out};
  Shape packed = densePackedWeightShape(w);
  Shape xk = x, outk = out;
  if (std::getenv("KBENCH_DYN"))
    xk[0] = outk[0] = kDynamic;
  return Case{"dense N" + std::to_string(N) + " " + std::to_string(in) + "->" +
                  std::to_string(units),
              2.0 * N * in * units,
              [=] {
                return buildDensePacked(xk, w, packed, true, act, outk,
                                        Halide::get_host_target());
              },
              {x, packed, {units}},
              out};
}

// MobileNetV2 (width 1.0, 224x224): (C, H, stride) of its depthwise layers
// and (C, H, O) of its 1x1 layers.
struct DwLayer {
  int64_t C, H;
  int s;
};
const DwLayer kMbv2Depthwise[] = {{32, 112, 1},  {96, 112, 2}, {144, 56, 1}, {144, 56, 2},
                                  {192, 28, 1},  {192, 28, 2}, {384, 14, 1}, {576, 14, 1},
                                  {576, 14, 2},  {960, 7, 1}};
struct PwLayer {
  int64_t C, H, O;
};
const PwLayer kMbv2Pointwise[] = {
    {32, 112, 16}, {16, 112, 96}, {96, 56, 24},  {24, 56, 144}, {144, 56, 24}, {144, 28, 32},
    {32, 28, 192}, {192, 28, 32}, {192, 14, 64}, {64, 14, 384}, {384, 14, 64}, {384, 14, 96},
    {96, 14, 576}, {576, 14, 96}, {576, 7, 160}, {160, 7, 960}, {960, 7, 160}, {960, 7, 320},
    {320, 7, 1280}};

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fprintf(stderr, "usage: kbench mbv2-dw [N] | mbv2-pw [N] | dw N C H W K s | "
                         "conv N C H W O K s | pw N C P O | dense N in out | dgw R out in [steps] | dgi R out in\n");
    return 2;
  }
  auto num = [&](size_t i, int64_t dflt) {
    return i < args.size() ? std::atoll(args[i].c_str()) : dflt;
  };
  std::vector<Case> cases;
  const std::string &what = args[0];
  if (what == "mbv2-dw") {
    for (const DwLayer &l : kMbv2Depthwise)
      cases.push_back(depthwise(num(1, 1), l.C, l.H, l.H, 3, l.s));
  } else if (what == "mbv2-pw") {
    for (const PwLayer &l : kMbv2Pointwise)
      cases.push_back(std::getenv("KBENCH_OLD")      ? conv(num(1, 1), l.C, l.H, l.H, l.O, 1, 1, true)
                      : std::getenv("KBENCH_PACKED") ? pointwisePacked(num(1, 1), l.C, l.H * l.H, l.O)
                                                     : pointwise(num(1, 1), l.C, l.H * l.H, l.O));
  } else if (what == "dw") {
    cases.push_back(depthwise(num(1, 1), num(2, 32), num(3, 56), num(4, 56), num(5, 3), num(6, 1)));
  } else if (what == "conv") {
    cases.push_back(conv(num(1, 1), num(2, 32), num(3, 56), num(4, 56), num(5, 32), num(6, 1),
                         num(7, 1), false));
  } else if (what == "copy") {
    Shape x{num(1, 1), num(2, 32), num(3, 112), num(4, 112)};
    cases.push_back(Case{"copy", 0.0,
                         [=] {
                           return buildActivation(x, ActivationSpec{}, x,
                                                  Halide::get_host_target());
                         },
                         {x},
                         x});
  } else if (what == "matmul") {
    Shape a{num(1, 1), num(2, 32), num(3, 784)}, b{num(1, 1), num(3, 784), num(4, 256)},
        o{num(1, 1), num(2, 32), num(4, 256)};
    cases.push_back(Case{"matmul", 2.0 * a[0] * a[1] * a[2] * b[2],
                         [=] { return buildMatmul(a, b, false, o, Halide::get_host_target()); },
                         {a, b},
                         o});
  } else if (what == "pw") {
    cases.push_back(pointwise(num(1, 1), num(2, 24), num(3, 3136), num(4, 144)));
    cases.push_back(pointwisePacked(num(1, 1), num(2, 24), num(3, 3136), num(4, 144)));
  } else if (what == "dense") {
    cases.push_back(dense(num(1, 32), num(2, 784), num(3, 256), true));
  } else if (what == "dgi") {
    // The dense input gradient dx = dy W (dy [R, units], W [units, in]); with
    // KBENCH_OLD the dense on a transposed copy it replaced (copy not timed).
    const int64_t R = num(1, 64), units = num(2, 256), in = num(3, 256);
    Shape dy{kDynamic, units}, w{units, in}, o{kDynamic, in};
    const bool old = std::getenv("KBENCH_OLD") != nullptr;
    cases.push_back(Case{std::string(old ? "dense(W^T)" : "dense grad input") + " R" +
                             std::to_string(R) + " " + std::to_string(units) + "->" +
                             std::to_string(in),
                         2.0 * R * units * in,
                         [=] {
                           const auto t = Halide::get_host_target();
                           return old ? buildDense(dy, {in, units}, false, {}, o, t)
                                      : buildDenseGradInput(dy, w, o, t);
                         },
                         {{R, units}, old ? Shape{in, units} : w},
                         {R, in}});
  } else if (what == "dgw") {
    // The dense weight gradient dW = dy^T x over R rows (a dynamic batch of
    // items of `steps` rows each).
    const int64_t R = num(1, 64), units = num(2, 256), in = num(3, 784), steps = num(4, 1);
    cases.push_back(Case{"dense grad weight R" + std::to_string(R) + " " + std::to_string(in) +
                             "->" + std::to_string(units),
                         2.0 * R * units * in,
                         [=] {
                           return buildDenseGradWeight({kDynamic, units}, {kDynamic, in},
                                                       {units, in}, Halide::get_host_target(),
                                                       steps);
                         },
                         {{R, units}, {R, in}},
                         {units, in}});
  } else {
    std::fprintf(stderr, "kbench: unknown case %s\n", what.c_str());
    return 2;
  }
  for (const Case &c : cases)
    timeCase(c);
  return 0;
}
