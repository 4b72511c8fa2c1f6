// Internal schedule helpers: dim fusion and the row schedule.
#include "RowSchedule.h"

#include <algorithm>

namespace dnnc::kernels::detail {

using namespace Halide;

VarOrRVar fuseVars(Stage s, const std::vector<VarOrRVar> &vars, size_t first, size_t last,
                   const std::string &name) {
  VarOrRVar cur = vars[first];
  for (size_t d = first + 1; d < last; ++d) {
    VarOrRVar fused = cur.is_rvar || vars[d].is_rvar
                          ? VarOrRVar(RVar(name + std::to_string(d)))
                          : VarOrRVar(Var(name + std::to_string(d)));
    s.fuse(cur, vars[d], fused);
    cur = fused;
  }
  return cur;
}

std::vector<VarOrRVar> varsOf(const std::vector<Var> &vars) {
  return std::vector<VarOrRVar>(vars.begin(), vars.end());
}

int64_t halideExtent(const Shape &s, int first, int last) {
  const int rank = static_cast<int>(s.size());
  int64_t n = 1;
  for (int d = first; d < last; ++d)
    if (s[rank - 1 - d] != kDynamic)
      n *= s[rank - 1 - d];
  return n;
}

LoopLevel scheduleRows(Func f, const Shape &s, int innerDims, const Target &t) {
  const int rank = static_cast<int>(s.size());
  if (innerDims >= rank || innerDims < 1) {
    scheduleFlat(f, s, t);
    return LoopLevel::root();
  }
  const int vec = t.natural_vector_size<float>();
  const std::vector<VarOrRVar> v = varsOf(f.args());
  const int64_t rowExtent = halideExtent(s, 0, innerDims);
  Var row = fuseVars(f, v, 0, innerDims, "row").var;
  Var ro("ro"), ri("ri");
  // A row shorter than a vector is one exact, narrower vector; otherwise the
  // last vector overlaps the previous one instead of a scalar tail (f is pure).
  f.split(row, ro, ri, static_cast<int>(std::min<int64_t>(vec, rowExtent)),
          TailStrategy::ShiftInwards)
      .vectorize(ri);
  Var outer = fuseVars(f, v, innerDims, rank, "outer").var;
  const bool dynamic = s[0] == kDynamic;
  if (dynamic || staticNumel(s) > 2 * 16384) {
    Var task("task"), rowInTask("row_in_task");
    const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / rowExtent));
    f.split(outer, task, rowInTask, rowsPerTask, TailStrategy::GuardWithIf).parallel(task);
    return LoopLevel(f, rowInTask);
  }
  return LoopLevel(f, outer);
}

} // namespace dnnc::kernels::detail
