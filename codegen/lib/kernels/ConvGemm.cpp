// Dense 2-D convolution (groups == 1) as a register-blocked GEMM on a
// stride-phase split, zero-padded, flattened copy of the input.
//
// The input image is copied once per call into xf: per channel, the s*s
// stride phases of the zero-padded image (phase (py, px) holds the padded
// pixels whose row = py mod s, col = px mod s), each phase a dense
// Hph x Wph plane. Output pixel (oy, ox) at tap (ky, kx) then reads
//   xf[ci*CS + phaseOffset(ky, kx) + q],   q = oy*Wph + ox,
// an address that is affine in q with unit stride, for every stride and
// dilation: a run of consecutive q is one dense vector load. (For stride 1
// this is the classic "padded-width" flattening: Wph = padded width.)
// Columns ox in [OW, Wph) of the q domain are garbage that is computed and
// dropped.
//
// Two schedules, picked from the shapes (planConv):
//  - Pixels: y[co, q] = sum_k W[co, k] B[k, q], vectorized along q.
//    The accumulators are cb (8) output channels x V vectors of q; per tap
//    one broadcast weight per channel (the packed weights put the cb
//    channels of a tap next to each other) and V dense loads of xf. Rows of
//    the output are cut into bands; a band's accumulators go through a
//    small staging buffer zq (L1/L2), from which the epilogue (residual,
//    activation) writes the NCHW output rows with dense vectors.
//  - Channels: for small maps (7x7, 14x14) where the garbage columns cost
//    too much, vectorize along output channels instead: cb = 32 or 64
//    channels of a tap are one or more vector loads of the packed weights
//    and each output pixel is a broadcast of xf. The NCHW store is then a
//    scatter, cheap next to the long reductions (K = C*KH*KW) these layers
//    have.
#include "ConvKernels.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

struct Geom {
  int64_t N, C, H, W, O, KH, KW, OH, OW;
  Conv2dAttrs a;
  int64_t Hph, Wph, CS; // phase plane extents, elements per channel in xf
};

Geom geometry(const Shape &x, const Shape &weight, const Conv2dAttrs &a, const Shape &out) {
  checkShape(x, 4, "conv2d input");
  checkShape(weight, 4, "conv2d weight");
  if (a.strideH < 1 || a.strideW < 1 || a.dilationH < 1 || a.dilationW < 1 || a.groups != 1 ||
      a.padTop < 0 || a.padLeft < 0 || a.padBottom < 0 || a.padRight < 0)
    throw std::invalid_argument("dnnc kernels: invalid packed conv2d attributes (groups must be 1)");
  Geom g;
  g.a = a;
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.O = weight[0];
  g.KH = weight[2];
  g.KW = weight[3];
  checkSameShape({g.C}, {weight[1]}, "conv2d weight channels");
  const int64_t Hp = g.H + a.padTop + a.padBottom, Wp = g.W + a.padLeft + a.padRight;
  const int64_t spanH = Hp - a.dilationH * (g.KH - 1) - 1;
  const int64_t spanW = Wp - a.dilationW * (g.KW - 1) - 1;
  if (spanH < 0 || spanW < 0)
    throw std::invalid_argument("dnnc kernels: conv2d kernel larger than padded input");
  g.OH = spanH / a.strideH + 1;
  g.OW = spanW / a.strideW + 1;
  checkSameShape({g.N, g.O, g.OH, g.OW}, out, "conv2d result");
  g.Hph = (Hp + a.strideH - 1) / a.strideH;
  g.Wph = (Wp + a.strideW - 1) / a.strideW;
  g.CS = int64_t(a.strideH) * a.strideW * g.Hph * g.Wph;
  return g;
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

enum class Mode { Pixels, Channels };

struct Plan {
  Mode mode;
  int cb; // output channels per packed weight block
};

// Shapes only (the packed weight layout is fixed before the target is
// known). Channels when the garbage columns of the q domain would waste more
// than ~15% (Wph/OW) and O is a multiple of 32.
Plan planConv(const Geom &g) {
  const double qWaste = double(g.Wph) / double(g.OW);
  bool channels = g.O % 32 == 0 && (qWaste > 1.15 || g.OW < 16);
  if (const char *force = std::getenv("DNNC_CONV_MODE")) // development override
    channels = std::string(force) == "channels" ? g.O % 32 == 0 : false;
  if (channels)
    return {Mode::Channels, g.O % 64 == 0 && g.OH * g.OW >= 6 ? 64 : 32};
  return {Mode::Pixels, static_cast<int>(std::min<int64_t>(g.O, 8))};
}

// The per-channel phase offset of tap (ky, kx) in xf.
Expr phaseOffset(const Geom &g, Expr ky, Expr kx) {
  const Conv2dAttrs &a = g.a;
  Expr row = ky * a.dilationH, col = kx * a.dilationW;
  return ((row % a.strideH) * a.strideW + col % a.strideW) * int(g.Hph * g.Wph) +
         (row / a.strideH) * int(g.Wph) + col / a.strideW;
}

// xf(i, n): the phase-split zero-padded image n, flattened (see the file
// comment): a zero fill plus one scattering copy per phase, each reading the
// input rows with stride s (dense for stride 1). Memory bound: vectorized,
// parallel over chunks (fill) and channels (copies). The caller places it
// (compute_at / compute_root).
Func flatPhaseInput(ImageParam in, const Geom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  Func xf(funcName("conv_flat_input"));
  Var i("i"), n("n"), io("io"), ii("ii");
  xf(i, n) = 0.0f;
  // Every read of xf lies in [0, C*CS) (the q domain ends at the last real
  // output pixel, whose taps are real padded pixels); fixed bounds give a
  // constant-size buffer.
  xf.bound(i, 0, int(g.C * g.CS));
  const int64_t total = g.C * g.CS;
  if (total >= vec) // (GuardWithIf here was seen to store past the bound)
    xf.split(i, io, ii, static_cast<int>(std::min<int64_t>(vec * 64, total / vec * vec)),
             TailStrategy::ShiftInwards)
        .vectorize(ii, vec)
        .parallel(io);
  const Conv2dAttrs &a = g.a;
  for (int py = 0; py < a.strideH; ++py)
    for (int px = 0; px < a.strideW; ++px) {
      // Phase row ii holds padded row ii*s + py = input row ii*s + py - pt.
      const int64_t i0 = std::max<int64_t>(0, ceilDiv(a.padTop - py, a.strideH));
      const int64_t i1 = g.H - 1 + a.padTop - py >= 0 ? (g.H - 1 + a.padTop - py) / a.strideH : -1;
      const int64_t j0 = std::max<int64_t>(0, ceilDiv(a.padLeft - px, a.strideW));
      const int64_t j1 = g.W - 1 + a.padLeft - px >= 0 ? (g.W - 1 + a.padLeft - px) / a.strideW : -1;
      if (i1 < i0 || j1 < j0)
        continue;
      RDom r(int(j0), int(j1 - j0 + 1), int(i0), int(i1 - i0 + 1), 0, int(g.C), "phase");
      Expr dst = r.z * int(g.CS) + (py * a.strideW + px) * int(g.Hph * g.Wph) +
                 r.y * int(g.Wph) + r.x;
      xf(dst, n) = in(r.x * a.strideW + px - a.padLeft, r.y * a.strideH + py - a.padTop, r.z, n);
      RVar rxo("rxo"), rxi("rxi");
      const int width = static_cast<int>(std::min<int64_t>(vec, j1 - j0 + 1));
      xf.update(xf.num_update_definitions() - 1)
          .allow_race_conditions() // the destinations are distinct (injective in r)
          .split(r.x, rxo, rxi, width, TailStrategy::GuardWithIf)
          .vectorize(rxi)
          .parallel(r.z);
    }
  return xf;
}

// ---------------------------------------------------------------------------
// Pixels schedule.

struct PixelTiles {
  int V;   // vectors of q per register tile
  int TH;  // output rows per band
  int G;   // output channels per task (multiple of cb)
};

// `vec` here is the q vector width: the target's, or the whole image's q
// extent when that is smaller.
PixelTiles pickPixelTiles(const Geom &g, const Plan &p, int vec) {
  PixelTiles best{1, int(g.OH), p.cb};
  double bestCost = std::numeric_limits<double>::max();
  const int64_t blocks = ceilDiv(g.O, p.cb);
  for (int V = 1; V <= 3; ++V) {
    const int64_t QT = int64_t(V) * vec;
    for (int64_t TH = 1; TH <= g.OH; ++TH) {
      const int64_t qext = (TH - 1) * g.Wph + g.OW;
      if (qext < QT)
        continue;
      const int64_t bands = ceilDiv(g.OH, TH);
      const int64_t tiles = ceilDiv(qext, QT);
      for (int64_t gb = 1; gb <= blocks; ++gb) {
        if (blocks % gb)
          continue;
        const int64_t G = gb * p.cb;
        const int64_t tasks = bands * (blocks / gb);
        if (TH * g.Wph * G * 4 > 256 * 1024 && !(TH == 1 && gb == 1))
          continue; // staging buffer beyond L2's comfort
        const double work = double(bands * tiles * QT) / double(g.OH * g.OW);
        // Fewer vectors per tile hide less latency and reload weights more.
        const double tileCost = 1.0 + 0.12 * (3 - V);
        // Two threads: an odd task count idles one; few tasks, more so.
        const double balance = tasks >= 16 ? 1.0 : double(ceilDiv(tasks, 2) * 2) / double(tasks);
        // Small bands reread the band's input halo (KH - 1 rows).
        const double halo = 1.0 + 0.02 * double(g.KH - 1) / double(TH);
        const double cost = work * tileCost * balance * halo;
        if (cost < bestCost - 1e-9) {
          bestCost = cost;
          best = {V, int(TH), int(G)};
        }
      }
    }
  }
  return best;
}

void schedulePixels(Func y, Func zq, Func convq, Func xf, RDom r, const Geom &g, const Plan &p,
                    const Target &t) {
  const int vec = t.natural_vector_size<float>();
  // Tiny maps: one narrower vector covers the image's whole q extent.
  const int qvec = static_cast<int>(std::min<int64_t>(vec, (g.OH - 1) * g.Wph + g.OW));
  const PixelTiles tl = pickPixelTiles(g, p, qvec);
  Var ox = y.args()[0], oy = y.args()[1], co = y.args()[2], n = y.args()[3];
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi"), task("task");
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  y.split(ox, oxo, oxi, lanes, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, tl.TH, TailStrategy::ShiftInwards)
      .split(co, coo, coi, tl.G, TailStrategy::ShiftInwards)
      .reorder(oxi, oxo, oyi, coi, oyo, coo, n)
      .vectorize(oxi)
      .fuse(oyo, coo, task)
      .parallel(task);

  Var q = zq.args()[0], zc = zq.args()[1], zb = zq.args()[2];
  Var qo("qo"), qi("qi"), qv("qv"), ql("ql");
  const int QT = tl.V * qvec;
  zq.compute_at(y, task)
      .split(q, qo, qi, QT, TailStrategy::ShiftInwards)
      .split(qi, qv, ql, qvec)
      .reorder(ql, qv, zc, zb, qo)
      .vectorize(ql)
      .unroll(qv)
      .unroll(zc);
  Var cq = convq.args()[0], cc = convq.args()[1];
  convq.compute_at(zq, zb).vectorize(cq, qvec).unroll(cq).unroll(cc);
  convq.update()
      .reorder(cq, cc, r.x, r.y, r.z)
      .vectorize(cq, qvec)
      .unroll(cq)
      .unroll(cc);
  if (g.KW <= 7)
    convq.update().unroll(r.x);
  xf.compute_at(y, n);
}

// ---------------------------------------------------------------------------
// Channels schedule.

struct ChannelTiles {
  int nv;     // vectors of output channels per register tile
  int tx, ty; // output pixels per register tile
};

ChannelTiles pickChannelTiles(const Geom &g, const Plan &p, int vec) {
  const int budget = vec >= 16 ? 24 : 12; // accumulator registers
  ChannelTiles best{1, 1, 1};
  double bestCost = std::numeric_limits<double>::max();
  for (int nv = 1; nv <= 4; ++nv) {
    if (p.cb % (nv * vec))
      continue;
    for (int tx = 1; tx <= std::min<int64_t>(g.OW, budget / nv); ++tx)
      for (int ty = 1; ty <= std::min<int64_t>(g.OH, budget / nv / tx); ++ty) {
        const int accs = nv * tx * ty;
        const double work =
            double(ceilDiv(g.OW, tx) * tx) * double(ceilDiv(g.OH, ty) * ty) / double(g.OW * g.OH);
        // Per tap: accs FMAs (the pixel broadcasts fold into them) and nv
        // weight loads; below ~10 accumulators the FMA latency shows.
        const double cost = work * (1.0 + double(nv) / accs) * std::max(1.0, 10.0 / accs);
        if (cost < bestCost - 1e-9) {
          bestCost = cost;
          best = {nv, tx, ty};
        }
      }
  }
  return best;
}

void scheduleChannels(Func y, Func convc, Func xf, RDom r, const Geom &g, const Plan &p,
                      const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const ChannelTiles tl = pickChannelTiles(g, p, vec);
  Var ox = y.args()[0], oy = y.args()[1], co = y.args()[2], n = y.args()[3];
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi"), task("task");
  // Tasks: (row block, image, channel block) with the row blocks innermost,
  // so that consecutive tasks share a channel block's weights (in L2): at
  // batch 32 every block of weights is read once per image otherwise.
  y.split(co, coo, coi, tl.nv * vec)
      .split(ox, oxo, oxi, tl.tx, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, tl.ty, TailStrategy::ShiftInwards)
      .reorder(coi, oxi, oyi, oxo, oyo, n, coo)
      .vectorize(coi, vec)
      .unroll(coi)
      .unroll(oxi)
      .unroll(oyi)
      .fuse(oyo, n, task)
      .fuse(task, coo, task)
      .parallel(task);
  std::vector<Var> cv = convc.args(); // (coi, ox, oy, cob, n)
  convc.compute_at(y, oxo).vectorize(cv[0], vec).unroll(cv[0]).unroll(cv[1]).unroll(cv[2]);
  convc.update()
      .reorder(cv[0], cv[1], cv[2], r.x, r.y, r.z)
      .vectorize(cv[0], vec)
      .unroll(cv[0])
      .unroll(cv[1])
      .unroll(cv[2]);
  if (g.KW <= 5)
    convc.update().unroll(r.x);
  // All images at once: the task loop runs over images inside channel blocks.
  xf.compute_root();
}

} // namespace

Shape conv2dPackedWeightShape(const Shape &x, const Shape &weight, const Conv2dAttrs &a,
                              const Shape &out) {
  const Geom g = geometry(x, weight, a, out);
  const Plan p = planConv(g);
  return {ceilDiv(g.O, p.cb), g.C, g.KH, g.KW, p.cb};
}

namespace {

// wp(coi, kx, ky, ci, cob) = weight(kx, ky, ci, cob*cb + coi), zero for the
// padding channels of the last block.
Func packWeights(ImageParam w, const Shape &weight, int cb) {
  Func wp(funcName("conv_packed_weight"));
  Var coi("coi"), kx("kx"), ky("ky"), ci("ci"), cob("cob");
  const int O = static_cast<int>(weight[0]);
  Expr co = cob * cb + coi;
  wp(coi, kx, ky, ci, cob) = select(co < O, w(kx, ky, ci, min(co, O - 1)), 0.0f);
  return wp;
}

Kernel buildGemmConv(const Geom &g, const Plan &p, ImageParam in, Func wp,
                     std::vector<ImageParam> inputs, bool hasBias, ActivationSpec act,
                     bool hasResidual, const Target &t) {
  ImageParam b(Float(32), 1, "bias"), res(Float(32), 4, "residual");
  Var q("q"), coi("coi"), cob("cob"), n("n"), ox("ox"), oy("oy"), co("co");
  Func xf = flatPhaseInput(in, g, t);
  RDom r(0, int(g.KW), 0, int(g.KH), 0, int(g.C), "k");
  Expr tap = r.z * int(g.CS) + phaseOffset(g, r.y, r.x);
  const int O = static_cast<int>(g.O), cb = p.cb;
  Func y(funcName("conv"));
  Expr sum;
  if (p.mode == Mode::Pixels) {
    Func convq(funcName("conv_acc")), zq(funcName("conv_tile"));
    convq(q, coi, cob, n) = hasBias ? b(min(cob * cb + coi, O - 1)) : 0.0f;
    convq(q, coi, cob, n) += wp(coi, r.x, r.y, r.z, cob) * xf(q + tap, n);
    zq(q, coi, cob, n) = convq(q, coi, cob, n);
    sum = zq(oy * int(g.Wph) + ox, co % cb, co / cb, n);
    if (hasResidual)
      sum += res(ox, oy, co, n);
    y(ox, oy, co, n) = applyActivation(sum, act);
    schedulePixels(y, zq, convq, xf, r, g, p, t);
  } else {
    // O is a multiple of cb here: no padding channels.
    Func convc(funcName("conv_acc"));
    convc(coi, ox, oy, cob, n) = hasBias ? b(cob * cb + coi) : 0.0f;
    convc(coi, ox, oy, cob, n) += wp(coi, r.x, r.y, r.z, cob) * xf(oy * int(g.Wph) + ox + tap, n);
    sum = convc(co % cb, ox, oy, co / cb, n);
    if (hasResidual)
      sum += res(ox, oy, co, n);
    y(ox, oy, co, n) = applyActivation(sum, act);
    scheduleChannels(y, convc, xf, r, g, p, t);
  }

  constrainDense(in, {g.N, g.C, g.H, g.W});
  if (hasBias) {
    constrainDense(b, {g.O});
    inputs.push_back(b);
  }
  if (hasResidual) {
    constrainDense(res, {g.N, g.O, g.OH, g.OW});
    inputs.push_back(res);
  }
  constrainDense(y.output_buffer(), {g.N, g.O, g.OH, g.OW});
  return makeKernel(y, inputs);
}

} // namespace

Kernel buildConv2dWeightPack(const Shape &weight, const Shape &packed, const Target &t) {
  requireCpuTarget(t, "conv2d weight pack");
  checkShape(weight, 4, "conv2d weight");
  checkShape(packed, 5, "conv2d packed weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: conv2d weight must be static");
  const int64_t cb = packed[4];
  checkSameShape({ceilDiv(weight[0], cb), weight[1], weight[2], weight[3], cb}, packed,
                 "conv2d packed weight");
  ImageParam w(Float(32), 4, "weight");
  Func wp = packWeights(w, weight, static_cast<int>(cb));
  Func out(funcName("conv_weight_pack"));
  std::vector<Var> v = wp.args();
  out(v) = wp(v);
  // Runs once at load time: vectorized along the block, parallel over blocks.
  const int vec = t.natural_vector_size<float>();
  Var coo("coo"), coi("coi");
  out.split(v[0], coo, coi, static_cast<int>(std::min<int64_t>(vec, cb)), TailStrategy::GuardWithIf)
      .vectorize(coi)
      .parallel(v[4]);
  constrainDense(w, weight);
  constrainDense(out.output_buffer(), packed);
  return makeKernel(out, {w});
}

Kernel buildConv2dPacked(const Shape &x, const Shape &weight, const Shape &packed, bool hasBias,
                         const Conv2dAttrs &a, ActivationSpec act, const Shape &out,
                         const Target &t, bool hasResidual) {
  requireCpuTarget(t, "conv2d");
  const Geom g = geometry(x, weight, a, out);
  const Plan p = planConv(g);
  checkSameShape(conv2dPackedWeightShape(x, weight, a, out), packed, "conv2d packed weight");
  ImageParam in(Float(32), 4, "x"), wp(Float(32), 5, "packed_weight");
  constrainDense(wp, packed);
  return buildGemmConv(g, p, in, wp, {in, wp}, hasBias, act, hasResidual, t);
}

namespace detail {

Kernel buildConv2dGemm(const Shape &x, const Shape &weight, bool hasBias, const Conv2dAttrs &a,
                       ActivationSpec act, const Shape &out, const Target &t, bool hasResidual) {
  const Geom g = geometry(x, weight, a, out);
  const Plan p = planConv(g);
  ImageParam in(Float(32), 4, "x"), w(Float(32), 4, "weight");
  constrainDense(w, weight);
  // Packed once per call (the lowering packs at load time instead).
  Func wp = packWeights(w, weight, p.cb);
  wp.compute_root().vectorize(wp.args()[0], std::min(p.cb, t.natural_vector_size<float>()),
                               TailStrategy::GuardWithIf);
  return buildGemmConv(g, p, in, wp, {in, w}, hasBias, act, hasResidual, t);
}

} // namespace detail

} // namespace dnnc::kernels
