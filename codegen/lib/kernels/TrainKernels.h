// dnnc Halide kernels of training: activation and softmax gradients, batch
// norm in training mode, the layer-norm gradient, dropout, losses and
// optimizer updates. Conventions as Kernels.h (float32 dense IR-order
// buffers, Halide dims reversed, only IR dim 0 (the batch) may be kDynamic,
// std::invalid_argument on shape errors, std::runtime_error for GPU targets).
// dnnref (RefTrain.h) holds the double-precision oracle of each builder.
//
// Multi-output kernels: the compiled function takes the inputs in the order
// of `arguments`, then one buffer per output in the order listed.
//
// In-place updates (running statistics, optimizers): the caller passes the
// same buffers as the state inputs and the outputs. These kernels compute
// all outputs of an element in one loop iteration from values loaded before
// any of them is stored, and never recompute an element (no overlapping
// vector tails), so aliasing an output with the input of the same name is
// correct. The same holds for every elementwise output here whose inputs
// are read at the same index (activation grad, dropout, loss gradients).
#pragma once

#include "Kernels.h"

#include <cstdint>

namespace dnnc::kernels {

// ---------------------------------------------------------------------------
// Activation and softmax gradients (TrainActivation.cpp).

// args: dy, x, y (all of `shape`; x the activation's input, y its output).
// dx = dy * act'(x) as dnnref::activationGrad: relu x > 0; sigmoid y (1 - y);
// tanh 1 - y^2; relu6 0 < x < 6; leaky x > 0 ? 1 : alpha; elu x > 0 ? 1 :
// y + alpha; softplus sigmoid(x); mish, gelu, gelu-tanh from x; sign 0;
// none 1. All three buffers are arguments for every activation; the
// compiled function ignores the ones it does not read (activationGradReads
// says whether x and y are read; dy is read by all but Sign, whose dx is 0),
// so a caller may pass any buffer of the shape for those and need not keep
// them alive for the backward.
Kernel buildActivationGrad(ActivationSpec act, const Shape &shape, const Halide::Target &t);
struct ActivationGradReads {
  bool x, y;
};
ActivationGradReads activationGradReads(Activation act);

// args: dy, y (the softmax output), both of `shape`. Along IR axis `axis`
// (0 <= axis < rank): dx = y * (dy - sum(dy * y, axis)).
Kernel buildSoftmaxGrad(const Shape &shape, int axis, const Halide::Target &t);
// args: dy, y (the log-softmax output). dx = dy - exp(y) * sum(dy, axis).
Kernel buildLogSoftmaxGrad(const Shape &shape, int axis, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Dropout (TrainActivation.cpp).

// args: x (of `shape`), hyper [8] (hyper[2] = seed, hyper[3] = step, floats
// holding integers in [0, 2^24)). Two outputs of `shape`: y = x * mask and
// mask, which is 1 / (1 - rate) where kept and 0 elsewhere, decided by
// dnnref::dropoutBits(seed, step, stream, flat index) >> 8 <
// dnnref::dropoutKeepThreshold(rate) (bit-identical to dnnref::dropoutMask).
// rate in [0, 1] (1 drops everything). The backward is dy * mask (buildBinary
// Mul). Use a different stream per dropout layer of a model.
Kernel buildDropoutTrain(const Shape &shape, float rate, uint32_t stream, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Normalization in training (TrainNorm.cpp, TrainLayerNorm.cpp).

// args: x [N, C, ...] (rank >= 2, channel axis 1), gamma [C], beta [C].
// Three outputs: y (x's shape), mean [C], invstd [C], as
// dnnref::batchNormTrain: statistics over every axis but C (count = N *
// prod(dims after C), N at run time when dynamic), biased variance,
// invstd = 1 / sqrt(var + eps), y = (x - mean) * invstd * gamma + beta.
Kernel buildBatchNormTrain(const Shape &x, float eps, const Halide::Target &t);
// args: dy, x (both of shape `x`), gamma, mean, invstd ([C], mean and invstd
// from buildBatchNormTrain). Three outputs: dx (x's shape), dgamma [C],
// dbeta [C], as dnnref::batchNormTrainGrad.
Kernel buildBatchNormTrainGrad(const Shape &x, const Halide::Target &t);
// args: runningMean, runningVar, mean, invstd (each [C]), count [1] (the
// number of elements per channel, N * prod(dims after C), as a float >= 2).
// Two outputs [C]: the new running mean and running var, as
// dnnref::runningStatsUpdate (unbiased variance recovered from invstd and
// eps). In place: pass runningMean and runningVar as the outputs too.
Kernel buildRunningStatsUpdate(int64_t C, float momentum, float eps, const Halide::Target &t);

// args: dy, x (both of `shape`), then gamma (the trailing normalizedRank
// dims) if affine. Outputs: dx (of `shape`), then dgamma and dbeta (gamma's
// shape) if affine, as dnnref::layerNormGrad with 1 <= normalizedRank < rank
// (the batch is never normalized); the row statistics are recomputed from x.
Kernel buildLayerNormGrad(const Shape &shape, int normalizedRank, bool affine, float eps,
                          const Halide::Target &t);

// ---------------------------------------------------------------------------
// Losses (TrainLoss.cpp): PyTorch reduction='mean' over the run-time batch.

// args: logits [N, C], target: [N] class indices (floats holding integers)
// or [N, C] probabilities (targetShape says which). Output [1]: the mean
// over N of sum_c -t[n,c] log_softmax(logits)[n,c], t = (1 - smoothing) *
// target + smoothing / C (dnnref::crossEntropy). A class index that is not
// an integer in [0, C) makes the loss NaN.
Kernel buildCrossEntropy(const Shape &logits, const Shape &target, float smoothing,
                         const Halide::Target &t);
// Same args; output [N, C]: (softmax(logits) * sum_c t[n,c] - t) / N
// (= (softmax - t) / N for rows of t summing to 1). A bad class index makes
// its row NaN.
Kernel buildCrossEntropyGrad(const Shape &logits, const Shape &target, float smoothing,
                             const Halide::Target &t);
// args: logits, target (both of `shape`). Output [1]: mean over all elements
// of max(z, 0) - z t + log(1 + exp(-|z|)).
Kernel buildBinaryCrossEntropy(const Shape &shape, const Halide::Target &t);
// Same args; output of `shape`: (sigmoid(z) - t) / numel.
Kernel buildBinaryCrossEntropyGrad(const Shape &shape, const Halide::Target &t);
// args: pred, target (both of `shape`). Output [1]: mean of (p - t)^2.
Kernel buildMse(const Shape &shape, const Halide::Target &t);
// Same args; output of `shape`: 2 (p - t) / numel.
Kernel buildMseGrad(const Shape &shape, const Halide::Target &t);

// ---------------------------------------------------------------------------
// Optimizer updates (TrainOptim.cpp): torch.optim (PyTorch 1.13) formulas as
// dnnref::sgdUpdate etc., elementwise over a parameter of `shape` (any
// shape). The fixed hyperparameters are baked in; they are doubles as in
// torch.optim, so 1 - beta and the like are formed in double and then
// rounded to float. Every kernel takes, after the parameter, its gradient
// and states, hyper [8]: hyper[0] = learning rate, hyper[1] = step t (the
// t-th update, from 1; Adam only), the rest spare. Outputs: the parameter,
// then the states in argument order, updated in place (pass the same
// buffers as the p and state args).

// args: p, g, buf (only if momentum != 0), hyper. Outputs: p[, buf].
Kernel buildSgdUpdate(const Shape &shape, double momentum, bool nesterov, double weightDecay,
                      const Halide::Target &t);
// args: p, g, sum, hyper. Outputs: p, sum.
Kernel buildAdagradUpdate(const Shape &shape, double eps, double weightDecay,
                          const Halide::Target &t);
// args: p, g, squareAvg, hyper. Outputs: p, squareAvg.
Kernel buildRmspropUpdate(const Shape &shape, double alpha, double eps, double weightDecay,
                          const Halide::Target &t);
// args: p, g, m, v, hyper. Outputs: p, m, v. The bias corrections
// 1 - beta^t are computed in double once per call.
Kernel buildAdamUpdate(const Shape &shape, double beta1, double beta2, double eps,
                       double weightDecay, bool adamw, const Halide::Target &t);

} // namespace dnnc::kernels
