// Gathering kernels: embedding (whole rows picked by index) and 2-D
// upsampling (nearest / bilinear, integer scales).
#include "Kernels.h"
#include "RowSchedule.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

Kernel buildEmbedding(const Shape &indices, const Shape &weight, const Shape &out,
                      const Target &t) {
  requireCpuTarget(t, "embedding");
  checkShape(indices, -1, "embedding indices");
  checkShape(weight, 2, "embedding weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: embedding weight must be static");
  Shape expected = indices;
  expected.push_back(weight[1]);
  checkSameShape(expected, out, "embedding result");
  const int m = static_cast<int>(indices.size());
  const int64_t V = weight[0];

  ImageParam idx(Float(32), m, "indices"), w(Float(32), 2, "weight");
  Var e("e");
  std::vector<Var> row = makeVars(m, "i");
  std::vector<Var> v{e};
  v.insert(v.end(), row.begin(), row.end());

  // Algorithm. The index of each row is validated once; a bad one fails the
  // whole call through halide_error (no silent clamping). The clamp after the
  // check only lets bounds inference prove that weight is read in bounds.
  Expr f = idx(row);
  Func index(funcName("embedding_index"));
  index(row) = require(f >= 0.0f && f < float(V) && f == floor(f), cast<int>(f),
                       "embedding: index out of range (not an integer in [0, " +
                           std::to_string(V) + ")):",
                       f);
  Func y(funcName("embedding"));
  y(v) = w(e, clamp(index(row), 0, int(V) - 1));

  constrainDense(idx, indices);
  constrainDense(w, weight);
  constrainDense(y.output_buffer(), out);

  // Schedule: one output row = one weight row (dense in both), vectorized;
  // rows in parallel chunks; the index (and its check) once per row.
  //   Measured, 1 thread, AVX-512 host: 64x128 indices into [30000, 256]
  //   0.73-0.77 ms (~11 GB/s of rows: random rows of a 30 MB table).
  const LoopLevel perRow = scheduleRows(y, out, 1, t);
  index.compute_at(perRow);
  return makeKernel(y, {idx, w});
}

namespace {

// Bilinear taps along one axis for integer scale s (PyTorch,
// align_corners=False). Output position dst = s*q + k (0 <= k < s) has
//   src = max((dst + 0.5)/s - 0.5, 0) = max(q + c_k, 0),
//   c_k = (2k + 1 - s) / (2s), -1/2 < c_k < 1/2,
// so with d_k = (c_k < 0 ? -1 : 0) the taps are q + d_k and q + d_k + 1 with
// weight c_k - d_k on the second, both clamped to [0, in - 1]. This equals
// PyTorch's i0 = floor(src), i1 = min(i0 + 1, in - 1), w = src - i0 in every
// case: at q = 0 with c_k < 0 both taps clamp to 0 (PyTorch: src = 0, so
// in[0]); at the far edge i1 clamps as in PyTorch. Writing the taps through
// q and k (rather than floor(src)) lets a schedule that splits dst by s see
// that the taps of each k are dense in q.
struct AxisTaps {
  Expr first, second, weight;
};

AxisTaps bilinearTaps(const Expr &dst, int s) {
  Expr q = dst / s, k = dst % s;
  Expr ck = cast<float>(2 * k + 1 - s) / float(2 * s);
  Expr dk = select(2 * k + 1 < s, -1, 0);
  return {q + dk, q + dk + 1, ck - cast<float>(dk)};
}

} // namespace

Kernel buildUpsample2d(const Shape &x, int scaleH, int scaleW, UpsampleMode mode,
                       const Shape &out, const Target &t) {
  requireCpuTarget(t, "upsample2d");
  checkShape(x, 4, "upsample2d input");
  if (scaleH < 1 || scaleW < 1)
    throw std::invalid_argument("dnnc kernels: upsample2d scales must be >= 1");
  checkSameShape({x[0], x[1], x[2] * scaleH, x[3] * scaleW}, out, "upsample2d result");
  const int64_t H = x[2], W = x[3];

  ImageParam in(Float(32), 4, "x");
  Var ox("ox"), oy("oy"), c("c"), n("n"), i("i"), j("j");
  Func y(funcName(mode == UpsampleMode::Nearest ? "upsample_nearest" : "upsample_bilinear"));
  Func padded(funcName("upsample_padded"));
  RDom rx(0, int(W), "rx");
  const int vec = t.natural_vector_size<float>();
  const bool padRows = mode == UpsampleMode::Bilinear && W < 10 * vec;
  if (mode == UpsampleMode::Nearest) {
    y(ox, oy, c, n) = in(ox / scaleW, oy / scaleH, c, n);
  } else {
    // The clamped taps of the derivation above, two ways (same values):
    //  - short rows: each input row with its edge value repeated once on
    //    either side, made once per plane as a dense copy plus the two edge
    //    columns, so that no tap load needs a per-lane clamp (a gather);
    //  - long rows: repeat_edge, whose clamps Halide's loop partitioning
    //    confines to the first and last vector of each row.
    //  Measured, 1 thread, AVX-512 host, x2, padded copy vs repeat_edge:
    //  [32,64,13,13] 0.39 vs 2.3 ms; [8,64,56,56] 1.6 vs 3.5 ms;
    //  [8,16,80,80] 0.75 vs 1.1 ms; [4,16,112,112] 0.73 vs 0.86 ms;
    //  [2,16,224,224] 1.5 vs 1.25 ms; hence the switch at 10 vectors.
    // The clamp of the row index is a per-row scalar either way.
    Func edge = BoundaryConditions::repeat_edge(in, {{0, int(W)}, {0, int(H)}});
    if (padRows) {
      padded(i, j, c, n) = undef<float>();
      padded(rx, j, c, n) = in(rx, j, c, n);
      padded(-1, j, c, n) = in(0, j, c, n);
      padded(int(W), j, c, n) = in(int(W) - 1, j, c, n);
    }
    Func taps = padRows ? padded : edge;
    const AxisTaps tx = bilinearTaps(ox, scaleW), ty = bilinearTaps(oy, scaleH);
    auto row = [&](const Expr &iy) {
      Expr r = clamp(iy, 0, int(H) - 1);
      return (1.0f - tx.weight) * taps(tx.first, r, c, n) + tx.weight * taps(tx.second, r, c, n);
    };
    y(ox, oy, c, n) = (1.0f - ty.weight) * row(ty.first) + ty.weight * row(ty.second);
  }

  constrainDense(in, x);
  constrainDense(y.output_buffer(), out);

  // Schedule: ox = scaleW * xo + k with k unrolled innermost and xo
  // vectorized: for each k the input taps are dense vectors in xo, and the
  // scaleW strided stores of one xo vector are interleaved by Halide into
  // dense stores (measured nearest x2 of [8,64,56,56]: 1.2 ms, ~27 GB/s;
  // bilinear x2 1.5-1.6 ms, x3 6.4 ms, where the 3-way interleave costs).
  // Planes (c, n) run in parallel in chunks of ~16K outputs
  // (a single plane stays on one thread); the padded rows (bilinear, short
  // rows) are made once per plane.
  const int lanes = static_cast<int>(std::min<int64_t>(vec, W));
  Var xo("xo"), k("k"), xoo("xoo"), xoi("xoi"), plane("plane"), task("task"),
      planeInTask("plane_in_task");
  y.split(ox, xo, k, scaleW)
      .split(xo, xoo, xoi, lanes, TailStrategy::ShiftInwards)
      .reorder(k, xoi, xoo, oy, c, n)
      .vectorize(xoi)
      .unroll(k)
      .fuse(c, n, plane);
  LoopLevel perPlane(y, plane);
  const int64_t planeSize = out[2] * out[3];
  if (x[0] == kDynamic || staticNumel(out) > 2 * 16384) {
    const int planesPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / planeSize));
    y.split(plane, task, planeInTask, planesPerTask, TailStrategy::GuardWithIf).parallel(task);
    perPlane = LoopLevel(y, planeInTask);
  }
  if (padRows) {
    padded.compute_at(perPlane);
    RVar rxo("rxo"), rxi("rxi");
    padded.update(0).split(rx.x, rxo, rxi, lanes, TailStrategy::GuardWithIf).vectorize(rxi);
    padded.update(1).unscheduled(); // one scalar per row: nothing to schedule
    padded.update(2).unscheduled();
  }
  return makeKernel(y, {in});
}

} // namespace dnnc::kernels
