// Transposed 2-D convolution (PyTorch ConvTranspose2d) in gather form, with
// the output split by stride phase so that only the kernel taps that reach
// an output pixel are visited.
#include "ConvKernels.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One spatial axis of the gather form. Output o receives x[i] * w[k]
// whenever i*stride - pad + k*dilation == o, i.e. k*dilation == o + pad
// (mod stride). Writing o = q*stride + phase, the matching k depend on the
// phase only: with g = gcd(dilation, stride) there are none unless g divides
// phase + pad; otherwise they are k0(phase) + t*step for t = 0, 1, ... with
// step = stride/g, and the input index is q + (phase + pad - k*dilation) /
// stride (an exact division). Per phase, neighbouring outputs q therefore
// read neighbouring inputs with the same weights: a plain convolution.
struct PhaseAxis {
  int stride, dilation, pad, kernel;
  int g, step, inverse; // inverse of dilation/g modulo step
  int taps;             // ceil(kernel / step): taps visited per phase

  PhaseAxis(int s, int d, int p, int64_t k)
      : stride(s), dilation(d), pad(p), kernel(static_cast<int>(k)) {
    g = std::gcd(d, s);
    step = s / g;
    inverse = 0;
    for (int i = 0; i < step; ++i)
      if ((int64_t(d / g) * i) % step == 1 % step) {
        inverse = i;
        break;
      }
    taps = static_cast<int>(ceilDiv(kernel, step));
  }

  // Kernel index of tap t for the given phase; indices >= kernel (past the
  // kernel, or the zero slot of a phase that no tap reaches) read a zero
  // weight.
  Expr tap(const Expr &phase, const Expr &t) const {
    Expr e = phase + pad;
    Expr k = ((e / g) * inverse) % step + t * step;
    return g > 1 ? select(e % g == 0, k, taps * step) : k;
  }

  // Input index read by tap t (kernel index k = tap(phase, t)). With
  // dilation 1 it is written without k so that bounds inference sees the
  // exact range (phase + pad) / stride - t.
  Expr input(const Expr &q, const Expr &phase, const Expr &t, const Expr &k) const {
    if (dilation == 1)
      return q + (phase + pad) / stride - t;
    return q + (phase + pad - k * dilation) / stride;
  }

  // Whether the kernel reads outside [0, inExtent) for some output in
  // [0, outExtent) rounded up to whole phase-grid columns (the schedules
  // compute those): the same index arithmetic as tap() and input(), over
  // every visited tap, including those that meet a zero weight. Only then is
  // a zero-padded input needed.
  bool readsPadding(int64_t inExtent, int64_t outExtent) const {
    auto floorDiv = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
    for (int64_t o = 0; o < roundUpTo(outExtent, stride); ++o) {
      const int64_t q = o / stride, e = o % stride + pad;
      for (int64_t t = 0; t < taps; ++t) {
        int64_t k = (e / g * inverse) % step + t * step;
        if (e % g != 0)
          k = int64_t(taps) * step;
        const int64_t i =
            dilation == 1 ? q + e / stride - t : q + floorDiv(e - k * dilation, stride);
        if (i < 0 || i >= inExtent)
          return true;
      }
    }
    return false;
  }
};

struct ConvTGeom {
  int64_t N, C, H, W, O, KH, KW, OH, OW, Cg, Og;
  int64_t QH, QW; // phase-grid extents: ceil(OH / strideH), ceil(OW / strideW)
  ConvTranspose2dAttrs a;
  bool padded; // some tap reads outside the input
};

struct ConvTFuncs {
  Func y, acc, input, weight; // output, phase-split accumulator, padded input, padded weight
  RDom r;                     // r.x = tap along W, r.y = tap along H, r.z = input channel in group
};

// Schedule comments and measured numbers: see buildConvTranspose2d.

// The task loop (band x channel block x image) in groups of ~256K MACs:
// one task per band of a small image left two threads fighting over
// Halide's pool lock (the input gradient of mnist_cnn's 32->64 3x3 layer,
// batch 64: ~900 tasks of ~3 us; a fifth of the training step's time on 2
// threads was in the lock).
void parallelInGroups(Func y, Var task, const ConvTGeom &g, int tileRows, int tileChannels) {
  const double macsPerPixel = double(g.Cg) * double(g.KH * g.KW) /
                              double(g.a.strideH * g.a.strideW);
  const double macsPerTask =
      macsPerPixel * double(tileRows * g.a.strideH) * double(g.OW) * double(tileChannels);
  const int group = static_cast<int>(std::max(1.0, std::min(1024.0, (1 << 18) / macsPerTask)));
  Var taskGroup("task_group"), inGroup("in_group");
  y.split(task, taskGroup, inGroup, group, TailStrategy::GuardWithIf).parallel(taskGroup);
}

// Channel schedule: vectorize along output channels (needs groups == 1 and
// at least a vector of them). Per output phase, a tile of nv vectors of
// channels x tx x ty phase-grid pixels is accumulated in registers: per
// (tap, input channel) step nv weight vectors (shared by the whole tile,
// since every pixel of one phase uses the same taps) and tx*ty broadcast
// input values. The y loops visit the phases of a tile one after another.
void scheduleChannel(ConvTFuncs &f, const ConvTGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  int bestV = 1, bestX = 1, bestY = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int nv = 1; nv <= 2 && nv * vec <= g.O; ++nv)
    for (int tx = 1; tx <= std::min<int64_t>(g.QW, budget / nv); ++tx)
      for (int ty = 1; ty <= std::min<int64_t>(g.QH, budget / nv / tx); ++ty) {
        const int accs = nv * tx * ty;
        const double work = double(roundUpTo(g.O, nv * vec)) * roundUpTo(g.QW, tx) *
                            roundUpTo(g.QH, ty) / double(g.O * g.QW * g.QH);
        // Wide tiles: the broadcast inputs of a step then share cache lines.
        const double shape = 1.0 + 0.1 * (ty - 1) / ty;
        const double cost = work * shape * (1.0 + double(nv) / accs) * std::max(1.0, 10.0 / accs);
        if (cost < bestCost - 1e-9) {
          bestCost = cost;
          bestV = nv;
          bestX = tx;
          bestY = ty;
        }
      }
  const int tc = bestV * vec;

  Var ox = f.y.args()[0], oy = f.y.args()[1], co = f.y.args()[2], n = f.y.args()[3];
  Var qx("qx"), px("px"), qy("qy"), py("py"), qxo("qxo"), qxi("qxi"), qyo("qyo"), qyi("qyi");
  Var coo("coo"), coi("coi"), task("task");
  f.y.split(ox, qx, px, g.a.strideW, TailStrategy::GuardWithIf)
      .split(oy, qy, py, g.a.strideH, TailStrategy::GuardWithIf)
      .split(co, coo, coi, tc, TailStrategy::ShiftInwards)
      .split(qx, qxo, qxi, bestX, TailStrategy::ShiftInwards)
      .split(qy, qyo, qyi, bestY, TailStrategy::ShiftInwards)
      .reorder(coi, qxi, qyi, px, py, qxo, qyo, coo, n)
      .vectorize(coi, vec)
      .unroll(coi)
      .unroll(qxi)
      .unroll(qyi)
      .fuse(qyo, coo, task)
      .fuse(task, n, task);
  parallelInGroups(f.y, task, g, bestY, tc);

  // All phases of the tile are accumulated at qxo (y's div/mod indexing
  // hides from bounds inference which phase a px iteration reads), one phase
  // after another (phases outside the reduction: the registers hold one).
  std::vector<Var> av = f.acc.args(); // (qx, px, qy, py, co, n)
  f.acc.compute_at(f.y, qxo)
      .reorder_storage(av[4], av[0], av[2], av[1], av[3], av[5])
      .reorder(av[4], av[0], av[2], av[1], av[3])
      .vectorize(av[4], vec)
      .unroll(av[4])
      .unroll(av[0])
      .unroll(av[2]);
  f.acc.update()
      .reorder(av[4], av[0], av[2], f.r.x, f.r.y, f.r.z, av[1], av[3])
      .vectorize(av[4], vec)
      .unroll(av[4])
      .unroll(av[0])
      .unroll(av[2]);
  if (g.KW <= 8)
    f.acc.update().unroll(f.r.x);

  std::vector<Var> wv = f.weight.args(); // (co, kx, ky, ci)
  f.weight.compute_root().vectorize(wv[0], vec);
  if (g.Cg >= 32)
    f.weight.parallel(wv[3], 16);
}

// Spatial schedule: vectorize along the phase grid's x (contiguous input
// loads for each phase). A tile holds one vector of q x all strideW*strideH
// phases x tco output channels x ty rows in registers; per (tap, input
// channel) step each phase loads one input vector per row and broadcasts one
// weight per channel. The phases are written back with interleaving stores
// (Halide merges the strideW stores of a row into dense ones). Used for few
// output channels (the image layer of a generator) and for groups > 1.
void scheduleSpatial(ConvTFuncs &f, const ConvTGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int phases = g.a.strideW * g.a.strideH;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.QW));
  int bestC = 1, bestY = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int tc = 1; tc <= std::min<int64_t>(g.O, budget / std::min(phases, budget)); ++tc)
    for (int ty = 1;
         ty <= std::min<int64_t>(g.QH, 4) && tc * ty * std::min(phases, budget) <= budget; ++ty) {
      const double work =
          double(roundUpTo(g.O, tc)) * double(roundUpTo(g.QH, ty)) / double(g.O * g.QH);
      const int accs = tc * ty * std::min(phases, budget);
      const double cost = work * (1.0 + 1.0 / ty + 1.0 / tc) * std::max(1.0, 8.0 / accs);
      if (cost < bestCost - 1e-9) {
        bestCost = cost;
        bestC = tc;
        bestY = ty;
      }
    }

  Var ox = f.y.args()[0], oy = f.y.args()[1], co = f.y.args()[2], n = f.y.args()[3];
  Var qx("qx"), px("px"), qy("qy"), py("py"), qxo("qxo"), qxi("qxi"), qyo("qyo"), qyi("qyi");
  Var coo("coo"), coi("coi"), task("task");
  f.y.split(ox, qx, px, g.a.strideW, TailStrategy::GuardWithIf)
      .split(oy, qy, py, g.a.strideH, TailStrategy::GuardWithIf)
      .split(qx, qxo, qxi, lanes, TailStrategy::ShiftInwards)
      .split(co, coo, coi, bestC, TailStrategy::ShiftInwards)
      .split(qy, qyo, qyi, bestY, TailStrategy::ShiftInwards)
      .reorder(qxi, px, py, coi, qyi, qxo, qyo, coo, n)
      .vectorize(qxi)
      .unroll(px)
      .unroll(py)
      .unroll(coi)
      .unroll(qyi)
      .fuse(qyo, coo, task)
      .fuse(task, n, task);
  parallelInGroups(f.y, task, g, bestY, bestC);

  std::vector<Var> av = f.acc.args(); // (qx, px, qy, py, co, n)
  f.acc.compute_at(f.y, qxo)
      .reorder(av[0], av[1], av[3], av[4], av[2])
      .vectorize(av[0])
      .unroll(av[4])
      .unroll(av[2]);
  f.acc.update()
      .reorder(av[0], av[1], av[3], av[4], av[2], f.r.x, f.r.y, f.r.z)
      .vectorize(av[0])
      .unroll(av[4])
      .unroll(av[2]);
  // Large strides (more phases than accumulator registers) keep the phases
  // as loops: one phase's accumulators at a time.
  if (phases <= budget) {
    f.acc.unroll(av[1]).unroll(av[3]);
    f.acc.update().unroll(av[1]).unroll(av[3]);
  } else {
    f.acc.update().reorder(av[0], av[4], av[2], f.r.x, f.r.y, f.r.z, av[1], av[3]);
  }
  if (g.KW <= 8)
    f.acc.update().unroll(f.r.x);

  f.weight.compute_root();
}

} // namespace

Kernel buildConvTranspose2d(const Shape &x, const Shape &weight, bool hasBias,
                            const ConvTranspose2dAttrs &a, ActivationSpec act, const Shape &out,
                            const Target &t) {
  requireCpuTarget(t, "convtranspose2d");
  checkShape(x, 4, "convtranspose2d input");
  checkShape(weight, 4, "convtranspose2d weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: convtranspose2d weight must be static");
  if (a.strideH < 1 || a.strideW < 1 || a.dilationH < 1 || a.dilationW < 1 || a.groups < 1 ||
      a.padTop < 0 || a.padLeft < 0 || a.padBottom < 0 || a.padRight < 0 || a.outputPadH < 0 ||
      a.outputPadW < 0 || a.outputPadH >= std::max(a.strideH, a.dilationH) ||
      a.outputPadW >= std::max(a.strideW, a.dilationW))
    throw std::invalid_argument("dnnc kernels: invalid convtranspose2d attributes");
  ConvTGeom g;
  g.a = a;
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.Og = weight[1];
  g.O = g.Og * a.groups;
  g.KH = weight[2];
  g.KW = weight[3];
  if (g.C % a.groups != 0)
    throw std::invalid_argument("dnnc kernels: convtranspose2d channels not divisible by groups");
  g.Cg = g.C / a.groups;
  checkSameShape({g.C, g.Og, g.KH, g.KW}, weight, "convtranspose2d weight");
  g.OH = (g.H - 1) * a.strideH - a.padTop - a.padBottom + int64_t(a.dilationH) * (g.KH - 1) +
         a.outputPadH + 1;
  g.OW = (g.W - 1) * a.strideW - a.padLeft - a.padRight + int64_t(a.dilationW) * (g.KW - 1) +
         a.outputPadW + 1;
  if (g.OH < 1 || g.OW < 1)
    throw std::invalid_argument("dnnc kernels: convtranspose2d padding crops the whole output");
  checkSameShape({g.N, g.O, g.OH, g.OW}, out, "convtranspose2d result");
  g.QH = ceilDiv(g.OH, a.strideH);
  g.QW = ceilDiv(g.OW, a.strideW);
  const PhaseAxis ax(a.strideW, a.dilationW, a.padLeft, g.KW);
  const PhaseAxis ay(a.strideH, a.dilationH, a.padTop, g.KH);

  ImageParam in(Float(32), 4, "x"), w(Float(32), 4, "weight"), b(Float(32), 1, "bias");
  Var ox("ox"), oy("oy"), co("co"), n("n"), i("i"), j("j"), c("c");
  Var qx("qx"), px("px"), qy("qy"), py("py"), kx("kx"), ky("ky"), ci("ci");

  // Algorithm.
  ConvTFuncs f{Func(funcName("convt")), Func(funcName("convt_acc")), Func(funcName("convt_input")),
               Func(funcName("convt_weight")), RDom(0, ax.taps, 0, ay.taps, 0, int(g.Cg), "r")};
  g.padded = ax.readsPadding(g.W, g.OW) || ay.readsPadding(g.H, g.OH);
  // Zero padded when some tap reads outside the input: once per call, since
  // per-task bands (as in Conv.cpp) start inside the padding here.
  if (g.padded)
    f.input(i, j, c, n) = zeroPaddedInput(in, g.H, g.W, t)(i, j, c, n);
  else
    f.input(i, j, c, n) = in(i, j, c, n);
  // weight(co, kx, ky, ci): output channel innermost, zero past the kernel.
  Expr group = co / int(g.Og);
  f.weight(co, kx, ky, ci) = select(
      kx < int(g.KW) && ky < int(g.KH),
      w(min(kx, int(g.KW) - 1), min(ky, int(g.KH) - 1), co % int(g.Og), group * int(g.Cg) + ci),
      0.0f);
  const RDom &r = f.r;
  Expr tx = ax.tap(px, r.x), ty = ay.tap(py, r.y);
  Expr cin = a.groups == 1 ? Expr(r.z) : group * int(g.Cg) + r.z;
  f.acc(qx, px, qy, py, co, n) = hasBias ? b(co) : 0.0f;
  f.acc(qx, px, qy, py, co, n) +=
      f.weight(co, tx, ty, r.z) *
      f.input(ax.input(qx, px, r.x, tx), ay.input(qy, py, r.y, ty), cin, n);
  f.y(ox, oy, co, n) = applyActivation(
      f.acc(ox / a.strideW, ox % a.strideW, oy / a.strideH, oy % a.strideH, co, n), act);

  constrainDense(in, x);
  constrainDense(w, weight);
  if (hasBias)
    constrainDense(b, {g.O});
  constrainDense(f.y.output_buffer(), out);

  const int vec = t.natural_vector_size<float>();
  // Schedule choice, as in buildConv2d: phase-grid rows of whole vectors
  // vectorize along the row; narrow or ragged rows vectorize along output
  // channels (groups == 1 and at least a vector of them).
  //   Measured, batch 1, 1 thread, AVX-512 host (dense 784->256 batch 32
  //   runs at 139 GFLOP/s here), GFLOP/s of useful MACs (taps that reach
  //   the input), channel / spatial schedule:
  //   DCGAN 4x4 s2 p1: 512->256 4->8: 28 / 5; 256->128 8->16: 62 / 32;
  //     128->64 16->32: 79 / 90; 64->3 32->64: - / 98;
  //     100->512 1x1->4x4 s1: 2.6 (15 of the 16 taps of every output read
  //     padding; the layer is bound by its 3.2 MB weight anyway).
  //   U-Net 2x2 s2: 512->256 16->32: 52 / 62; 256->128 32->64: 50 / 75;
  //     128->64 64->128: 34 / 70; 64->32 32->64: 27 / 129.
  //   A zero-inserted input would run every output over all KH*KW taps:
  //   4x the MACs for these stride-2 layers.
  const double rowWaste = double(roundUpTo(g.QW, vec)) / double(g.QW);
  if (a.groups == 1 && g.O >= vec && rowWaste > 1.07)
    scheduleChannel(f, g, t);
  else
    scheduleSpatial(f, g, t);

  std::vector<ImageParam> inputs{in, w};
  if (hasBias)
    inputs.push_back(b);
  return makeKernel(f.y, inputs);
}

} // namespace dnnc::kernels
