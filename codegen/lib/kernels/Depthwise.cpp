// Depthwise 2-D convolution (groups == input channels, channel multiplier
// M = O / C): each output channel co filters input channel co / M alone.
#include "ConvKernels.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

struct DwGeom {
  int64_t N, C, H, W, O, M, KH, KW, OH, OW;
  Conv2dAttrs a;
};

struct DwFuncs {
  Func y, acc, phase;
  RDom taps;                  // taps.x = kx, taps.y = ky
  // Per update of phase: the input columns it copies, and its vector width
  // (the whole run or a multiple of it).
  std::vector<std::pair<RDom, int>> copies;
};

// Row schedule: vectorized along the output row. A task is a group of
// channels of one image; per channel, per band of output rows, the input rows
// of the band are first copied into `phase` (zero padding and, for a
// horizontal stride s, the s column phases stored apart: a few KB, L1
// resident, so that reading the input streams along with the arithmetic), so
// the tap loop reads dense, unaligned vectors with no boundary selects and
// no strided gathers. A tile of ty rows x one vector keeps ty accumulators;
// the taps are unrolled and vertically neighbouring taps of the tile share
// their loads.
void scheduleRows(DwFuncs &f, const DwGeom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  const int ty = static_cast<int>(std::min<int64_t>(g.OH, 4));
  // Band of output rows whose input rows are copied at a time. Measured (1
  // thread, AVX-512 host, 3x3, cpu ms): copying per tile of ty rows rather
  // than per plane takes 96x112x112 s2 from 0.52 to 0.25, 32x112x112 s1
  // from 0.21 to 0.12, 144x56x56 s1 from 0.22 to 0.16: the input is then read
  // in short bursts between the arithmetic instead of one long one per plane
  // (a copy is only as fast as a plain copy of the input when interleaved).
  // Planes up to ~8 KB (28x28 and smaller) are copied whole: the halo rows
  // re-copied per tile cost more there (192x28x28: 0.046 whole, 0.063 per
  // tile).
  const int64_t paddedPlane = (g.OH * g.a.strideH + g.KH) * (g.OW * g.a.strideW + g.KW);
  const int tilesPerBand =
      paddedPlane <= 2048 ? static_cast<int>((g.OH + ty - 1) / ty) : 1;
  // Channels per task: ~16K outputs per task, so that small maps do not
  // drown in task overhead.
  const int64_t plane = g.OH * g.OW;
  const int chans = static_cast<int>(std::clamp<int64_t>(16384 / plane, 1, g.O));

  Var ox = f.y.args()[0], oy = f.y.args()[1], co = f.y.args()[2], n = f.y.args()[3];
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), band("band"), cot("cot"), coi("coi"),
      task("task");
  f.y.split(ox, oxo, oxi, lanes, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, ty, TailStrategy::ShiftInwards)
      .split(oyo, band, oyo, tilesPerBand, TailStrategy::GuardWithIf)
      .split(co, cot, coi, chans, TailStrategy::GuardWithIf)
      .reorder(oxi, oyi, oxo, oyo, band, coi, cot, n)
      .vectorize(oxi)
      .unroll(oyi)
      .fuse(cot, n, task)
      .parallel(task);
  f.acc.compute_at(f.y, oxo).vectorize(ox).unroll(oy);
  f.acc.update().reorder(ox, oy, f.taps.x, f.taps.y, co, n).vectorize(ox).unroll(oy);
  if (g.KW <= 7)
    f.acc.update().unroll(f.taps.x);
  if (g.KH * g.KW <= 49)
    f.acc.update().unroll(f.taps.y);

  Var pi = f.phase.args()[0];
  f.phase.compute_at(f.y, band).vectorize(pi, vec, TailStrategy::GuardWithIf);
  for (size_t u = 0; u < f.copies.size(); ++u) {
    RVar rxo("rxo"), rxi("rxi");
    f.phase.update(int(u)).split(f.copies[u].first.x, rxo, rxi, f.copies[u].second).vectorize(rxi);
  }
}

} // namespace

Kernel buildDepthwiseConv2d(const Shape &x, const Shape &weight, bool hasBias,
                            const Conv2dAttrs &a, ActivationSpec act, const Shape &out,
                            const Target &t, bool hasResidual) {
  requireCpuTarget(t, "depthwise conv2d");
  checkShape(x, 4, "depthwise conv2d input");
  checkShape(weight, 4, "depthwise conv2d weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: depthwise conv2d weight must be static");
  if (a.strideH < 1 || a.strideW < 1 || a.dilationH < 1 || a.dilationW < 1 || a.padTop < 0 ||
      a.padLeft < 0 || a.padBottom < 0 || a.padRight < 0)
    throw std::invalid_argument("dnnc kernels: invalid depthwise conv2d attributes");
  DwGeom g;
  g.a = a;
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.O = weight[0];
  g.KH = weight[2];
  g.KW = weight[3];
  if (a.groups != g.C || g.O % g.C != 0)
    throw std::invalid_argument("dnnc kernels: depthwise conv2d needs groups == input channels "
                                "and output channels a multiple of them");
  g.M = g.O / g.C;
  checkSameShape({g.O, 1, g.KH, g.KW}, weight, "depthwise conv2d weight");
  const int64_t spanH = g.H + a.padTop + a.padBottom - a.dilationH * (g.KH - 1) - 1;
  const int64_t spanW = g.W + a.padLeft + a.padRight - a.dilationW * (g.KW - 1) - 1;
  if (spanH < 0 || spanW < 0)
    throw std::invalid_argument("dnnc kernels: depthwise conv2d kernel larger than padded input");
  g.OH = spanH / a.strideH + 1;
  g.OW = spanW / a.strideW + 1;
  checkSameShape({g.N, g.O, g.OH, g.OW}, out, "depthwise conv2d result");

  ImageParam in(Float(32), 4, "x"), w(Float(32), 4, "weight"), b(Float(32), 1, "bias"),
      res(Float(32), 4, "residual");
  Var ox("ox"), oy("oy"), co("co"), n("n"), i("i"), j("j"), p("p"), c("c");

  // Algorithm. phase(i, j, p, c, n) is the zero-padded input at padded
  // column i * strideW + p and padded row j: for stride 1 just the padded
  // input, for stride s its s column phases side by side, so that tap kx of
  // output column ox reads phase column ox + (kx * dilationW) / s of phase
  // (kx * dilationW) % s: consecutive outputs read consecutive elements.
  DwFuncs f{Func(funcName("dwconv")), Func(funcName("dwconv_acc")),
            Func(funcName("dwconv_phase")), RDom(0, int(g.KW), 0, int(g.KH), "taps"), {}};
  // Zero everywhere, then per phase the input columns copied over it: no
  // per-element boundary selects (only a per-row one for the padding rows).
  // The rows are a pure dimension of the copies, so a band of output rows
  // copies just the input rows it reads.
  const int vec = t.natural_vector_size<float>();
  f.phase(i, j, p, c, n) = 0.0f;
  Expr row = j - a.padTop;
  Expr rowInside = row >= 0 && row < int(g.H);
  Expr clampedRow = clamp(row, 0, int(g.H) - 1);
  for (int ph = 0; ph < a.strideW; ++ph) {
    // Phase columns whose padded column i * s + ph is an input column.
    const int64_t first = std::max<int64_t>(0, (a.padLeft - ph + a.strideW - 1) / a.strideW);
    const int64_t last = (a.padLeft + g.W - 1 - ph) / a.strideW; // may be < first
    const int64_t count = last - first + 1;
    // Whole vectors, then one last vector overlapping them (a copy may be
    // written twice) rather than a predicated tail: a masked strided load
    // is compiled to a gather.
    std::vector<std::pair<int64_t, int64_t>> runs; // (first column, columns)
    if (count >= vec) {
      runs.emplace_back(first, count / vec * vec);
      if (count % vec)
        runs.emplace_back(last - vec + 1, vec);
    } else if (count > 0) {
      runs.emplace_back(first, count);
    }
    for (auto [start, columns] : runs) {
      RDom cols(int(start), int(columns), "cols");
      f.copies.push_back({cols, static_cast<int>(std::min<int64_t>(vec, columns))});
      f.phase(cols, j, ph, c, n) =
          select(rowInside, in(cols * a.strideW + ph - a.padLeft, clampedRow, c, n), 0.0f);
    }
  }
  const RDom &r = f.taps;
  Expr q = r.x * a.dilationW;
  f.acc(ox, oy, co, n) = hasBias ? b(co) : 0.0f;
  f.acc(ox, oy, co, n) += w(r.x, r.y, 0, co) * f.phase(ox + q / a.strideW,
                                                       oy * a.strideH + r.y * a.dilationH,
                                                       q % a.strideW, co / int(g.M), n);
  Expr sum = f.acc(ox, oy, co, n);
  if (hasResidual)
    sum += res(ox, oy, co, n);
  f.y(ox, oy, co, n) = applyActivation(sum, act);

  constrainDense(in, x);
  constrainDense(w, weight);
  if (hasBias)
    constrainDense(b, {g.O});
  if (hasResidual)
    constrainDense(res, out);
  constrainDense(f.y.output_buffer(), out);

  scheduleRows(f, g, t);

  std::vector<ImageParam> inputs{in, w};
  if (hasBias)
    inputs.push_back(b);
  if (hasResidual)
    inputs.push_back(res);
  return makeKernel(f.y, inputs);
}

} // namespace dnnc::kernels
