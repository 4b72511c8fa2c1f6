// Internal helpers shared by the training kernels (TrainKernels.h); not part
// of the API.
#pragma once

#include "Kernels.h"

#include <vector>

namespace dnnc::kernels::detail {

// Like scheduleFlat (one flat, vectorized loop in parallel chunks of ~16K
// elements), but the last partial vector is guarded instead of shifted
// inwards: no element is computed twice, so an output may be the same buffer
// as an input read at the same index (in-place updates), and a Func with a
// Tuple value stores all its outputs of an element after loading its inputs.
void scheduleFlatExact(Halide::Func f, const Shape &s, const Halide::Target &t);

// constrainDense for every output buffer of a Tuple-valued Func: Halide
// lets only the first one carry mins and extents (the others must match
// it), so the others get the dense strides alone.
void constrainDenseOutputs(Halide::Func f, const Shape &s);

// The batch extent of a buffer of IR shape s: the constant s[0], or the
// run-time extent of p's outermost Halide dim when s[0] is kDynamic.
Halide::Expr batchExtent(const Halide::OutputImageParam &p, const Shape &s);

// The row-major flat index of the element at Halide vars v of a dense IR
// shape s (a kDynamic batch is the outermost dim, so it only multiplies).
Halide::Expr flatIndex(const std::vector<Halide::Var> &v, const Shape &s);

// Schedules an associative reduction `red` (a sum or a max: one pure value
// per row, a single update over RDom vars `rvars` that sweep a dense run of
// `extent` floats) to be computed at `at` with its reduction split into
// vectors and rfactor'ed into per-lane partials (dense vector loads, one
// horizontal reduction per row). The partials Func is computed at `at` too.
void scheduleRowReduction(Halide::Func red, const std::vector<Halide::RVar> &rvars, int64_t extent,
                          Halide::LoopLevel at, const Halide::Target &t);

// The float NaN bit pattern chosen by an integer select: select(bad, NaN, v)
// without a NaN constant in float arithmetic, which Halide's fast-math code
// generation would be free to fold away.
Halide::Expr nanIf(const Halide::Expr &bad, const Halide::Expr &v);

} // namespace dnnc::kernels::detail
