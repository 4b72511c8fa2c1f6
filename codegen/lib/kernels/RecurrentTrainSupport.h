// Internal helpers of the recurrent training kernels (not part of the API).
// The nonlinearities and the strided-row constraint are the ones
// Recurrent.cpp uses (kept there file-local; repeated here rather than
// editing the inference kernel), so training and inference compute the same
// float values.
#pragma once

#include "Kernels.h"

#include <cstdint>

namespace dnnc::kernels::recurrent_train {

// Halide's tanh is a scalar libm call per lane (11.5 ns/element vectorized vs
// 0.46 ns for the exp form, measured for Recurrent.cpp), while its exp is a
// vectorizable polynomial. exp returns garbage for |x| far beyond the float
// range, hence the clamps: at |x| = 88 the results are already 0 / 1 / +-1.
Halide::Expr sigmoidOf(const Halide::Expr &x);
Halide::Expr tanhOf(const Halide::Expr &x);

// Declares `p` a [rows, width] buffer whose rows lie `rowStride` elements
// apart (rows may be kDynamic). Halide forbids bounds on the non-first
// outputs of a Tuple Func (they equal the first's), so those get their
// strides only (withBounds = false). Throws std::invalid_argument unless
// width <= rowStride < 2^31.
void constrainRows(Halide::OutputImageParam p, int64_t rows, int64_t width, int64_t rowStride,
                   const char *what, bool withBounds = true);

// Throws std::invalid_argument unless batch >= 1 (or kDynamic) and hidden >= 1.
void checkStepSizes(int64_t batch, int64_t hidden, const char *what);

} // namespace dnnc::kernels::recurrent_train
