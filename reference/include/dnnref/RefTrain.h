// Reference kernels of training: activation and softmax gradients, batch
// norm in training mode, the layer-norm gradient, dropout masks, losses and
// optimizer updates. Same conventions as RefKernels.h: double precision,
// dense row-major tensors, NCHW, plain loops; a shape or parameter violation
// by the caller prints to stderr and aborts.
//
// Every backward function here is checked against central finite differences
// of its forward function (tests/unit/reference/RefTrainGradCheckTest.cpp).
#pragma once

#include "dnnref/RefKernels.h"

#include <cstdint>
#include <vector>

namespace dnnref {

// ------------------------------------------------------ Activation gradient
// dx = dy * act'(x); x is the activation's input and y = act(x) its output
// (dy, x, y of one shape). Each derivative uses what is exact and cheap:
//   None 1; Relu x > 0; Sigmoid y (1 - y); Tanh 1 - y^2;
//   LeakyRelu x > 0 ? 1 : alpha; Relu6 0 < x < 6; Elu x > 0 ? 1 : y + alpha;
//   Softplus sigmoid(x); Mish t + x sigmoid(x) (1 - t^2), t = tanh(softplus x);
//   Gelu Phi(x) + x phi(x) (the normal cdf and density);
//   GeluTanh 0.5 (1 + th) + 0.5 x (1 - th^2) k (1 + 3 c x^2), th = tanh(u),
//     u = k (x + c x^3), k = sqrt(2/pi), c = 0.044715; Sign 0.
// At the kinks PyTorch's choice: relu'(0) = 0, relu6'(0) = relu6'(6) = 0,
// leaky'(0) = alpha.
Tensor activationGrad(const Tensor &dy, const Tensor &x, const Tensor &y, Activation act,
                      double alpha);

// ------------------------------------------------- Softmax family gradients
// y is the forward output along `axis` (python style, may be negative).
// softmax:     dx = y * (dy - sum(dy * y, axis))
// log-softmax: dx = dy - exp(y) * sum(dy, axis)
Tensor softmaxGrad(const Tensor &dy, const Tensor &y, int axis);
Tensor logSoftmaxGrad(const Tensor &dy, const Tensor &y, int axis);

// ------------------------------------------------- Batch norm in training
// PyTorch BatchNorm1d/2d/3d in training mode: channel axis 1, x of rank >= 2
// ([N, C] or [N, C, ...]), statistics over every axis but the channel
// (count = N * prod(dims after C) elements per channel):
//   mean[c] = sum x / count, var[c] = sum (x - mean)^2 / count (BIASED),
//   invstd[c] = 1 / sqrt(var + eps), y = (x - mean) * invstd * gamma + beta.
// gamma, beta: [C]. count must be >= 1 (PyTorch itself refuses count 1 in
// training; the statistics are still defined).
struct BatchNormTrainResult {
  Tensor y, mean, invstd; // x's shape, [C], [C]
};
BatchNormTrainResult batchNormTrain(const Tensor &x, const Tensor &gamma, const Tensor &beta,
                                    double eps);

// Gradients of batchNormTrain (the batch statistics depend on x):
//   xhat = (x - mean) invstd, dbeta[c] = sum dy, dgamma[c] = sum dy xhat,
//   dx = gamma invstd (dy - dbeta / count - xhat dgamma / count).
// dy and x of one shape; gamma, mean, invstd [C] (mean and invstd as
// batchNormTrain returned them).
struct BatchNormTrainGradResult {
  Tensor dx, dgamma, dbeta; // x's shape, [C], [C]
};
BatchNormTrainGradResult batchNormTrainGrad(const Tensor &dy, const Tensor &x, const Tensor &gamma,
                                            const Tensor &mean, const Tensor &invstd);

// The running statistics after one training step (all [C]):
//   runningMean' = (1 - momentum) runningMean + momentum mean,
//   runningVar'  = (1 - momentum) runningVar + momentum var * count / (count - 1),
// var = 1 / invstd^2 - eps recovered from batchNormTrain's invstd, i.e. the
// UNBIASED batch variance as PyTorch keeps it. count (= N * prod(dims after C))
// must be >= 2.
struct RunningStats {
  Tensor mean, var;
};
RunningStats runningStatsUpdate(const Tensor &runningMean, const Tensor &runningVar,
                                const Tensor &mean, const Tensor &invstd, double momentum,
                                double eps, int64_t count);

// ----------------------------------------------------- Layer norm gradient
// Gradients of dnnref::layerNorm(x, normalizedRank, gamma, beta, eps): each
// row (the trailing normalizedRank dims, R elements) has its own mean and
// invstd = 1 / sqrt(biased var + eps); with xhat = (x - mean) invstd and
// g = dy * gamma (dy without gamma):
//   dx = invstd (g - mean_row(g) - xhat mean_row(g xhat)),
//   dgamma = sum over rows of dy xhat, dbeta = sum over rows of dy
// (shaped like gamma). gamma may be nullptr (no affine): dgamma and dbeta
// are then empty tensors of shape {0}.
struct LayerNormGradResult {
  Tensor dx, dgamma, dbeta;
};
LayerNormGradResult layerNormGrad(const Tensor &dy, const Tensor &x, const Tensor *gamma,
                                  int normalizedRank, double eps);

// ------------------------------------------------------ Dropout in training
// The counter-based hash that decides every dropout element, the same 32-bit
// integer function in dnnref and in the Halide kernel (bit-identical masks):
//   mix(h) = lowbias32: h ^= h >> 16; h *= 0x7feb352d; h ^= h >> 15;
//            h *= 0x846ca68b; h ^= h >> 16   (all mod 2^32)
//   key    = mix(mix(mix(stream + 0x9e3779b9) ^ seed) ^ step)
//   bits   = mix(mix(index ^ key) + key)   (index = flat row-major index mod 2^32)
uint32_t dropoutBits(uint32_t seed, uint32_t step, uint32_t stream, uint32_t index);
// Elements with (bits >> 8) < dropoutKeepThreshold(rate) are kept, so the
// keep probability is threshold / 2^24 = 1 - rate (to 2^-25):
//   threshold = floor((1 - rate) * 2^24 + 0.5), computed in double.
uint32_t dropoutKeepThreshold(double rate);
// The dropout mask of a tensor of `shape`: 1 / (1 - rate) where kept, else 0
// (rate in [0, 1]; rate 1 drops everything). The forward is x * mask, the
// backward dy * mask (dnnref::mul).
Tensor dropoutMask(const std::vector<int64_t> &shape, double rate, uint32_t seed, uint32_t step,
                   uint32_t stream);

// ------------------------------------------------------------------ Losses
// PyTorch reduction='mean'. Labels are floats.
//
// Cross entropy of logits [N, C] (N >= 1) against target [N] (class indices,
// integers in [0, C): anything else aborts) or [N, C] (probabilities, e.g.
// one-hot). With label smoothing s the target distribution is
// t = (1 - s) * target + s / C, and
//   loss = (1/N) sum_n sum_c -t[n,c] * log_softmax(logits)[n,c].
double crossEntropy(const Tensor &logits, const Tensor &target, double smoothing);
// d loss / d logits = (softmax(logits) * sum_c t[n,c] - t) / N, i.e.
// (softmax - t) / N for targets whose rows sum to 1 (indices, one-hot,
// probabilities); the exact derivative otherwise.
Tensor crossEntropyGrad(const Tensor &logits, const Tensor &target, double smoothing);

// Binary cross entropy from LOGITS z against targets t of the same shape, mean
// over all elements, computed stably: max(z, 0) - z t + log(1 + exp(-|z|)).
double binaryCrossEntropy(const Tensor &logits, const Tensor &target);
// (sigmoid(z) - t) / numel.
Tensor binaryCrossEntropyGrad(const Tensor &logits, const Tensor &target);

// Mean squared error: mean over all elements of (p - t)^2; grad 2 (p - t) / numel.
double mse(const Tensor &pred, const Tensor &target);
Tensor mseGrad(const Tensor &pred, const Tensor &target);

// ------------------------------------------------------ Optimizer updates
// torch.optim (PyTorch 1.13) single-tensor formulas, updating p and the state
// IN PLACE; g is the parameter's gradient (same shape as p and the states).
// Except for AdamW, weight decay is folded into the gradient first:
// g' = g + weightDecay * p.
//
// SGD (dampening 0): with momentum != 0, buf = momentum * buf + g' and the
// step direction is d = nesterov ? g' + momentum * buf : buf; without
// momentum d = g' and buf may be nullptr. p -= lr * d. A zero buffer before
// the first step reproduces PyTorch's buf = clone(g') (dampening is 0).
void sgdUpdate(Tensor &p, const Tensor &g, Tensor *buf, double lr, double momentum, bool nesterov,
               double weightDecay);
// Adagrad (lr_decay 0, initial accumulator 0): sum += g'^2;
// p -= lr * g' / (sqrt(sum) + eps).
void adagradUpdate(Tensor &p, const Tensor &g, Tensor &sum, double lr, double eps,
                   double weightDecay);
// RMSprop (momentum 0, not centered): squareAvg = alpha * squareAvg +
// (1 - alpha) g'^2; p -= lr * g' / (sqrt(squareAvg) + eps).
void rmspropUpdate(Tensor &p, const Tensor &g, Tensor &squareAvg, double lr, double alpha,
                   double eps, double weightDecay);
// Adam / AdamW at step t >= 1 (the t-th update; m and v start at 0):
//   AdamW: p *= 1 - lr * weightDecay first and g' = g;
//   m = beta1 m + (1 - beta1) g', v = beta2 v + (1 - beta2) g'^2,
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// (= lr * m_hat / (sqrt(v_hat) + eps), written in PyTorch's order).
void adamUpdate(Tensor &p, const Tensor &g, Tensor &m, Tensor &v, double lr, double beta1,
                double beta2, double eps, double weightDecay, int64_t step, bool adamw);

} // namespace dnnref
