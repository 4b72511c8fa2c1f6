#include "RecurrentTrainSupport.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace dnnc::kernels::recurrent_train {

using namespace Halide;

Expr sigmoidOf(const Expr &x) { return 1.0f / (1.0f + exp(-clamp(x, -88.0f, 88.0f))); }

Expr tanhOf(const Expr &x) {
  Expr e = exp(-min(2.0f * abs(x), 88.0f)); // in (0, 1]: no overflow
  Expr magnitude = (1.0f - e) / (1.0f + e);
  return select(x < 0.0f, -magnitude, magnitude);
}

void constrainRows(OutputImageParam p, int64_t rows, int64_t width, int64_t rowStride,
                   const char *what, bool withBounds) {
  if (rowStride < width || rowStride > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument(std::string("dnnc kernels: ") + what + " row stride " +
                                std::to_string(rowStride) + " must lie between its row width " +
                                std::to_string(width) + " and 2^31-1");
  p.dim(0).set_stride(1);
  p.dim(1).set_stride(static_cast<int>(rowStride));
  if (!withBounds)
    return;
  p.dim(0).set_bounds(0, static_cast<int>(width));
  if (rows == kDynamic)
    p.dim(1).set_min(0);
  else
    p.dim(1).set_bounds(0, static_cast<int>(rows));
}

void checkStepSizes(int64_t batch, int64_t hidden, const char *what) {
  if (batch != kDynamic && batch < 1)
    throw std::invalid_argument(std::string("dnnc kernels: ") + what +
                                " batch must be >= 1 or kDynamic");
  if (hidden < 1 || hidden > std::numeric_limits<int32_t>::max() / 8)
    throw std::invalid_argument(std::string("dnnc kernels: ") + what +
                                " hidden size must be >= 1 (and small enough for 32-bit "
                                "indices of its gate rows)");
}

} // namespace dnnc::kernels::recurrent_train
