// Internal to the recurrent kernels (not part of the API): the schedule of
// one step on W_hh packed by buildPackRecurrentWeights, shared by the
// inference step (Recurrent.cpp, where it is measured and explained) and
// the training forward step (RecurrentTrainStep.cpp).
#pragma once

#include "Kernels.h"

#include <cstdint>
#include <vector>

namespace dnnc::kernels::recurrent_step {

// `step(j, n)` (one or more outputs) reads hh(u, g, jb, hn), the tile's
// register-blocked h_prev W_hh^T over the packed layout (reduction `k` over
// the hidden units); `tileLocal` Funcs of (j, n) are computed once per tile
// (values several outputs read). G gates, `batch` rows (or kDynamic).
void scheduleStep(Halide::Func step, Halide::Func hh, Halide::RDom k,
                  const std::vector<Halide::Func> &tileLocal, int G, int64_t hidden,
                  int64_t batch, const Halide::Target &t);

} // namespace dnnc::kernels::recurrent_step
