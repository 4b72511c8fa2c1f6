// Times the recurrent step kernel the way a compiled model runs it: the
// builders are AOT-compiled (host target, as dnnc does), linked with Halide's
// standalone runtime into a shared library, and called T times per layer on
// strided batch-first slices (first step from a dense h0/c0), after the
// weights were packed once. Prints the best and the median time per layer
// (and per step) over the repetitions.
//
//   recurrent_bench CELL H N T THREADS [REPS]     CELL: lstm | gru | rnn
//   env: BENCH_DENSE_STATE=1 (h/c in two dense [N, H] buffers, as the lowering
//   keeps a state that is not returned), BENCH_TIME_MAJOR=1 (xproj [T, N, G*H]),
//   BENCH_ASM=1 BENCH_KEEP=1 (keep the kernels' assembly in /tmp)
//
// Not part of the test suite; build by hand, e.g.
//   g++ -O2 -std=c++17 -fexceptions -I codegen/lib/kernels -isystem /usr/include/halide14 \
//     bench/kernels/recurrent_bench.cpp build/lib/libDnnKernels.a \
//     /usr/lib/x86_64-linux-gnu/libHalide14.so.0 -ldl -lpthread -o /tmp/recurrent_bench
#include "SequenceKernels.h"

#include <HalideRuntime.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

using namespace dnnc::kernels;

namespace {

using KernelFn = int (*)(...);

struct Strided {
  halide_buffer_t buf{};
  halide_dimension_t dims[4]{};
};

// IR shape (row-major) and IR strides -> halide_buffer_t.
void describe(Strided &s, float *host, const std::vector<int64_t> &shape,
              const std::vector<int64_t> &strides) {
  const int rank = static_cast<int>(shape.size());
  std::memset(&s.buf, 0, sizeof(s.buf));
  s.buf.host = reinterpret_cast<uint8_t *>(host);
  s.buf.type = halide_type_t(halide_type_float, 32);
  s.buf.dimensions = rank;
  s.buf.dim = s.dims;
  for (int d = 0; d < rank; ++d)
    s.dims[d] = {0, static_cast<int32_t>(shape[rank - 1 - d]),
                 static_cast<int32_t>(strides[rank - 1 - d]), 0};
}

std::vector<int64_t> denseStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

float *alignedFloats(size_t n, float fill) {
  void *p = nullptr;
  if (posix_memalign(&p, 64, std::max<size_t>(n, 16) * sizeof(float)))
    std::abort();
  float *f = static_cast<float *>(p);
  for (size_t i = 0; i < n; ++i)
    f[i] = fill * static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  return f;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s lstm|gru|rnn H N T THREADS [REPS]\n", argv[0]);
    return 2;
  }
  const std::string cellName = argv[1];
  const Cell cell = cellName == "lstm" ? Cell::Lstm : cellName == "gru" ? Cell::Gru : Cell::RnnTanh;
  const int64_t H = std::atoll(argv[2]), N = std::atoll(argv[3]), T = std::atoll(argv[4]);
  const int threads = std::atoi(argv[5]);
  const int reps = argc > 6 ? std::atoi(argv[6]) : 200;
  const int64_t G = gateCount(cell), GH = G * H;
  const bool lstm = cell == Cell::Lstm;

  // AOT-compile the three kernels the lowering uses (dynamic batch, as in a
  // model) and link them with the runtime.
  const std::string dir = "/tmp/recurrent_bench_" + std::to_string(getpid());
  std::system(("mkdir -p " + dir).c_str());
  Halide::Target target = Halide::get_host_target();
  Halide::Target noRuntime = target.with_feature(Halide::Target::NoRuntime);
  // BENCH_DENSE_STATE=1: h and c ping-pong between two dense [N, H] buffers
  // instead of living in [N, T, H] sequences.
  const bool denseState = getenv("BENCH_DENSE_STATE") != nullptr;
  const int64_t seqStride = denseState ? H : T * H;
  // BENCH_TIME_MAJOR=1: xproj laid out [T, N, G*H] (each step's rows dense)
  // instead of batch-first [N, T, G*H].
  const bool timeMajor = getenv("BENCH_TIME_MAJOR") != nullptr;
  const int64_t xprojStride = timeMajor ? GH : T * GH;
  const StepLayout first{xprojStride, H, H, seqStride, seqStride},
      next{xprojStride, seqStride, seqStride, seqStride, seqStride};
  struct Item {
    Kernel k;
    const char *name;
  } items[] = {{buildPackRecurrentWeights(cell, H, true, target), "pack"},
               {buildRecurrentStep(cell, kDynamic, H, first, target), "step_first"},
               {buildRecurrentStep(cell, kDynamic, H, next, target), "step_next"}};
  std::string objects;
  for (Item &it : items) {
    std::string obj = dir + "/" + it.name + ".o";
    it.k.pipeline.compile_to_object(obj, it.k.arguments, it.name, noRuntime);
    if (getenv("BENCH_ASM"))
      it.k.pipeline.compile_to_assembly(dir + "/" + it.name + ".s", it.k.arguments, it.name,
                                        noRuntime);
    objects += " " + obj;
  }
  Halide::compile_standalone_runtime(dir + "/runtime.o", target);
  const std::string so = dir + "/kernels.so";
  if (std::system(("c++ -shared -o " + so + objects + " " + dir + "/runtime.o -lpthread -ldl").c_str()))
    return 1;
  void *lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  auto pack = reinterpret_cast<int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *)>(
      dlsym(lib, "pack"));
  void *stepFirst = dlsym(lib, "step_first"), *stepNext = dlsym(lib, "step_next");
  auto setThreads = reinterpret_cast<int (*)(int)>(dlsym(lib, "halide_set_num_threads"));
  setThreads(threads);

  const Shape packedShape = packedRecurrentWeightShape(cell, H);
  int64_t packedNumel = 1;
  for (int64_t e : packedShape)
    packedNumel *= e;
  float *wHh = alignedFloats(GH * H, 0.1f), *bHh = alignedFloats(GH, 0.1f);
  float *packed = alignedFloats(packedNumel, 0.0f);
  float *xproj = alignedFloats(N * T * GH, 1.0f), *h0 = alignedFloats(N * H, 0.5f),
        *c0 = alignedFloats(N * H, 0.5f);
  float *hs = alignedFloats(N * T * H, 0.0f), *cs = alignedFloats(N * T * H, 0.0f);
  Strided bw, bb, bp;
  describe(bw, wHh, {GH, H}, {H, 1});
  describe(bb, bHh, {GH}, {1});
  describe(bp, packed, packedShape, denseStrides(packedShape));
  if (pack(&bw.buf, &bb.buf, &bp.buf))
    return 1;

  Strided args[6];
  auto runStep = [&](int64_t t) {
    const bool isFirst = t == 0;
    describe(args[0], xproj + t * (timeMajor ? N * GH : GH), {N, GH}, {xprojStride, 1});
    // Slice t of a state sequence (or ping-pong buffer t % 2).
    auto slice = [&](float *seq, int64_t step) {
      return denseState ? seq + (step % 2) * N * H : seq + step * H;
    };
    describe(args[1], isFirst ? h0 : slice(hs, t - 1), {N, H}, {isFirst ? H : seqStride, 1});
    describe(args[2], isFirst ? c0 : slice(cs, t - 1), {N, H}, {isFirst ? H : seqStride, 1});
    describe(args[3], packed, packedShape, denseStrides(packedShape));
    describe(args[4], slice(hs, t), {N, H}, {seqStride, 1});
    describe(args[5], slice(cs, t), {N, H}, {seqStride, 1});
    using Lstm = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *,
                         halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
    using Other = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *,
                          halide_buffer_t *);
    void *fn = isFirst ? stepFirst : stepNext;
    int rc = lstm ? reinterpret_cast<Lstm>(fn)(&args[0].buf, &args[1].buf, &args[2].buf,
                                               &args[3].buf, &args[4].buf, &args[5].buf)
                  : reinterpret_cast<Other>(fn)(&args[0].buf, &args[1].buf, &args[3].buf,
                                                &args[4].buf);
    if (rc)
      std::exit(1);
  };

  // Wall time, and the CPU time of the process (all threads): on a shared
  // machine the latter excludes the time this process waited for a core.
  auto cpuMs = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  };
  std::vector<double> ms, cpu;
  for (int r = 0; r < reps + 5; ++r) {
    auto start = std::chrono::steady_clock::now();
    double cpuStart = cpuMs();
    for (int64_t t = 0; t < T; ++t)
      runStep(t);
    double cpuEnd = cpuMs();
    auto end = std::chrono::steady_clock::now();
    if (r >= 5) {
      ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
      cpu.push_back(cpuEnd - cpuStart);
    }
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  const double flops = 2.0 * N * T * GH * H;
  std::printf("%s H=%lld N=%lld T=%lld threads=%d: best %.4f ms (%.2f us/step, %.1f GFLOP/s)  "
              "median %.4f ms (%.2f us/step)  cpu best %.4f median %.4f ms\n",
              cellName.c_str(), (long long)H, (long long)N, (long long)T, threads, ms.front(),
              1e3 * ms.front() / T, flops / ms.front() / 1e6, ms[ms.size() / 2],
              1e3 * ms[ms.size() / 2] / T, cpu.front(), cpu[cpu.size() / 2]);
  if (!getenv("BENCH_KEEP"))
    std::system(("rm -rf " + dir).c_str());
  return 0;
}
