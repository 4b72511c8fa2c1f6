// Internal schedule helpers shared by the elementwise, normalization and
// shape-op kernels (not part of the API).
#pragma once

#include "Kernels.h"

#include <vector>

namespace dnnc::kernels::detail {

// Fuses vars[first..last) (innermost first) of stage s into one var and
// returns it (vars[first] itself when the range holds one var).
Halide::VarOrRVar fuseVars(Halide::Stage s, const std::vector<Halide::VarOrRVar> &vars,
                           size_t first, size_t last, const std::string &name);
std::vector<Halide::VarOrRVar> varsOf(const std::vector<Halide::Var> &vars);

// Product of the extents of Halide dims [first, last) of IR shape s (Halide
// dim d is IR dim rank-1-d); a kDynamic batch counts as 1.
int64_t halideExtent(const Shape &s, int first, int last);

// Schedules a pure Func over a dense tensor of IR shape `s` as rows: Halide
// dims [0, innerDims) are fused into one vectorized row (a dense run in
// memory for the buffers the caller has in mind), the other dims into one
// outer loop run in parallel in chunks of ~16K elements, so that small
// tensors stay on one thread. innerDims >= rank (or a row that would include
// a dynamic batch) falls back to scheduleFlat. Returns the loop level of one
// row (for per-row stages), or root when there is no outer loop.
Halide::LoopLevel scheduleRows(Halide::Func f, const Shape &s, int innerDims,
                               const Halide::Target &t);

} // namespace dnnc::kernels::detail
