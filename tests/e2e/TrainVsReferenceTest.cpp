// The compiled training step against an independent oracle: one SGD step of
// learning rate 1 from random weights moves every weight by minus its
// gradient, which is compared with central finite differences of the loss
// computed by the reference evaluator (double precision) on the frontend's
// IR. This checks the whole chain at once: the autodiff pass, the training
// forms, the loss and its seed, the backward kernels and the memory plan.
#include "E2ESupport.h"

#include "dnnrt/SafeTensors.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace {

using namespace dnnc::e2e;

/// The training entry points, looked up in the compiled model.
struct TrainApi {
  decltype(&::dnn_set_target) setTarget = nullptr;
  decltype(&::dnn_train_step) trainStep = nullptr;
  decltype(&::dnn_save_weights) saveWeights = nullptr;

  explicit TrainApi(const std::string &soPath) {
    void *handle = dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return;
    setTarget = reinterpret_cast<decltype(setTarget)>(dlsym(handle, "dnn_set_target"));
    trainStep = reinterpret_cast<decltype(trainStep)>(dlsym(handle, "dnn_train_step"));
    saveWeights = reinterpret_cast<decltype(saveWeights)>(dlsym(handle, "dnn_save_weights"));
  }
};

enum class Loss { CrossEntropy, BinaryCrossEntropy, Mse };

struct TrainCase {
  const char *name;
  const char *body;     // statements of the model, without the train block
  const char *target;   // the train block's target shape, e.g. "[N]" or "[N, 2]"
  const char *loss;     // the train block's loss call
  Loss kind;
  std::map<std::string, InputRange> inputs = {};
  double smoothing = 0.0;
  double tolerance = 2e-3; // of the largest gradient of the weight tensor
};

const TrainCase kCases[] = {
    {"mlp_cross_entropy", R"(
  input x: [N, 7]
  h = dense(x, units=5, activation=tanh)
  g = dense(h, units=4, activation=leaky_relu, alpha=0.1)
  p = dense(g, units=3, activation=softmax)
  output p)",
     "[N]", "cross_entropy(p, y)", Loss::CrossEntropy},
    {"label_smoothing_logits", R"(
  input x: [N, 6]
  h = dense(x, units=5, activation=elu, alpha=0.5)
  p = dense(h, units=4)
  output p)",
     "[N]", "cross_entropy(p, y, label_smoothing=0.1)", Loss::CrossEntropy, {}, 0.1},
    {"binary_cross_entropy", R"(
  input x: [N, 4]
  h = dense(x, units=6, activation=gelu)
  p = dense(h, units=1, activation=sigmoid)
  output p)",
     "[N, 1]", "binary_cross_entropy(p, y)", Loss::BinaryCrossEntropy},
    {"activations", R"(
  input x: [N, 3, 4]
  d = dense(x, units=4)
  a = sign(d)
  b = relu6(d)
  c = softplus(d)
  e = mish(d)
  f = elu(d, alpha=0.7)
  g = gelu(d, approximate=tanh)
  h = sigmoid(d)
  i = tanh(d)
  j = relu(d)
  k = identity(d)
  l = softmax(d, axis=1)
  m = log_softmax(d)
  n = glu(d)
  z = concat(a, b, c, e, f, g, h, i, j, k, l, m, n, axis=2)
  fl = flatten(z)
  p = dense(fl, units=2)
  output p)",
     "[N, 2]", "mse(p, y)", Loss::Mse, {{"x", {-3.0, 3.0}}}},
    {"convolutions", R"(
  input x: [N, 2, 9, 8]
  c1 = conv2d(x, filters=3, kernel=3, stride=2, padding=same, activation=relu)
  c2 = conv2d(x, filters=4, kernel=3, groups=2, dilation=2, padding=1, bias=false)
  dw = depthwise_conv2d(x, kernel=3, depth_multiplier=2, padding=same, activation=relu6)
  sp = separable_conv2d(x, filters=3, kernel=3, stride=2)
  m1 = maxpool2d(c2, size=2)
  a1 = avgpool2d(dw, size=3, padding=same)
  g1 = global_maxpool2d(sp)
  g2 = global_avgpool2d(a1)
  f1 = flatten(c1)
  f2 = flatten(m1)
  z = concat(f1, f2, g1, g2, axis=1)
  h = dense(z, units=5, activation=relu)
  p = dense(h, units=4, activation=softmax)
  output p)",
     "[N]", "cross_entropy(p, y)", Loss::CrossEntropy},
    {"decoder_and_1d", R"(
  input x: [N, 3, 4, 5]
  input s: [N, 3, 11]
  t = conv_transpose2d(x, filters=2, kernel=3, stride=2, padding=1, output_padding=1)
  r = conv2d(x, filters=2, kernel=1)
  u = upsample2d(r, scale=2, mode=bilinear)
  n = upsample2d(r)
  z = zeropad2d(r, padding=(1, 2))
  c = conv1d(s, filters=4, kernel=3, stride=2, padding=same)
  m = maxpool1d(c, size=2)
  a = avgpool1d(c, size=2, padding=same, count_include_pad=true)
  g = global_avgpool1d(c)
  ft = flatten(t)
  fu = flatten(u)
  fn = flatten(n)
  fz = flatten(z)
  fm = flatten(m)
  fa = flatten(a)
  w = concat(ft, fu, fn, fz, fm, fa, g, axis=1)
  p = dense(w, units=3)
  output p)",
     "[N, 3]", "mse(p, y)", Loss::Mse},
    {"tensors_and_embedding", R"(
  input ids: [N, 5]
  input x: [N, 5, 4]
  e = embedding(ids, num_embeddings=7, dim=4)
  s = add(e, x)
  l = layernorm(s)
  d = dense(l, units=6)
  a, b = split(d, parts=2, axis=2)
  m = mul(a, b)
  x3 = dense(x, units=3)
  q = sub(m, x3)
  t = transpose(q, perm=(0, 2, 1))
  mm = matmul(q, t)
  r = reshape(mm, shape=(25))
  p = dense(r, units=2)
  output p)",
     "[N, 2]", "mse(p, y)", Loss::Mse, {{"ids", {0.0, 7.0, true}}}},
    {"recurrent", R"(
  input x: [N, 5, 3]
  input h0: [N, 4]
  input c0: [N, 4]
  a = lstm(x, units=4, return_sequences=true)
  b = gru(a, units=3, bidirectional=true, layers=2)
  c = rnn(x, units=2)
  l, lh, lc = lstm(x, h0, c0, units=4, return_state=true)
  g = gru(x, h0, units=4)
  f = concat(b, c, l, lc, g, axis=1)
  p = dense(f, units=2)
  output p)",
     "[N, 2]", "mse(p, y)", Loss::Mse},
    {"attention", R"(
  input x: [N, 4, 6]
  input kv: [N, 3, 6]
  m = multi_head_attention(x, heads=2, causal=true)
  c = multi_head_attention(x, kv, heads=3, bias=false)
  q = dense(x, units=6)
  a = attention(q, kv, scale=0.3)
  z = concat(m, c, a, axis=2)
  f = flatten(z)
  p = dense(f, units=2)
  output p)",
     "[N, 2]", "mse(p, y)", Loss::Mse},
};

std::string modelText(const TrainCase &c) {
  return std::string("model ") + c.name + " {" + c.body + "\n  train {\n    target y: " +
         c.target + "\n    loss = " + c.loss + "\n    optimizer = sgd(lr=1)\n  }\n}\n";
}

/// The loss of a prediction `p` (the model's output, in double) as the train
/// block defines it, PyTorch's reduction 'mean'.
double lossOf(const TrainCase &c, const dnnref::Tensor &p, const std::vector<double> &y) {
  int64_t batch = p.shape[0];
  int64_t classes = p.numel() / batch;
  double total = 0;
  switch (c.kind) {
  case Loss::CrossEntropy: {
    bool logits = std::string(c.body).find("softmax)\n  output") == std::string::npos;
    for (int64_t n = 0; n < batch; ++n) {
      const double *row = p.data.data() + n * classes;
      double shift = 0, sum = 0;
      if (logits) {
        shift = *std::max_element(row, row + classes);
        for (int64_t k = 0; k < classes; ++k)
          sum += std::exp(row[k] - shift);
      }
      for (int64_t k = 0; k < classes; ++k) {
        double logp = logits ? row[k] - shift - std::log(sum) : std::log(row[k]);
        double t = (k == int64_t(y[n]) ? 1.0 - c.smoothing : 0.0) + c.smoothing / classes;
        total -= t * logp;
      }
    }
    return total / batch;
  }
  case Loss::BinaryCrossEntropy:
    for (int64_t i = 0; i < p.numel(); ++i)
      total -= y[i] * std::log(p.data[i]) + (1 - y[i]) * std::log(1 - p.data[i]);
    return total / p.numel();
  case Loss::Mse:
    for (int64_t i = 0; i < p.numel(); ++i)
      total += (p.data[i] - y[i]) * (p.data[i] - y[i]);
    return total / p.numel();
  }
  return 0;
}

/// The central finite difference of `loss` in element i of `values`
/// (restored afterwards), with a step relative to the element's size.
template <typename LossFn>
double centralDifference(std::vector<double> &values, int64_t i, const LossFn &loss) {
  double saved = values[i];
  double h = 1e-6 * std::max(1.0, std::abs(saved));
  values[i] = saved + h;
  double up = loss();
  values[i] = saved - h;
  double down = loss();
  values[i] = saved;
  return (up - down) / (2 * h);
}

class TrainVsReference : public ::testing::TestWithParam<const TrainCase *> {};

TEST_P(TrainVsReference, SgdStepMatchesFiniteDifferences) {
  const TrainCase &c = *GetParam();
  CompiledModel &m = compileModel(writeModel(c.name, modelText(c)), "");
  ASSERT_TRUE(m.module && m.library.create);
  const dnnrt::ModelLibrary &lib = m.library;
  TrainApi train(m.soPath);
  ASSERT_TRUE(train.setTarget && train.trainStep && train.saveWeights);
  dnn_context *ctx = lib.create(m.weightsPath.c_str());
  ASSERT_NE(ctx, nullptr) << lib.lastError();

  const int64_t batch = 3;
  std::mt19937 rng(99);
  std::vector<dnnref::Tensor> inputs;
  for (int i = 0; i < lib.numInputs(ctx); ++i) {
    std::string name = lib.inputName(ctx, i);
    InputRange range = c.inputs.count(name) ? c.inputs.at(name) : InputRange{};
    std::vector<int64_t> shape;
    for (int d = 0; d < lib.inputRank(ctx, i); ++d) {
      int64_t dim = lib.inputDim(ctx, i, d);
      shape.push_back(dim < 0 ? batch : dim);
    }
    dnnref::Tensor t(shape);
    std::vector<float> data(t.numel());
    std::uniform_real_distribution<float> dist(range.lo, range.hi);
    for (size_t k = 0; k < data.size(); ++k) {
      float v = dist(rng);
      t.data[k] = data[k] = range.integers ? std::floor(v) : v;
    }
    ASSERT_EQ(lib.setInput(ctx, name.c_str(), data.data(), shape.data(), (int)shape.size()), 0)
        << lib.lastError();
    inputs.push_back(std::move(t));
  }

  // Targets: class indices, 0/1 labels or values, from the prediction's shape.
  std::vector<dnnref::Tensor> outputs;
  std::string error;
  ASSERT_TRUE(dnnref::evaluate(*m.module, m.weights, inputs, outputs, error)) << error;
  const dnnref::Tensor &prediction = outputs[0];
  int64_t classes = prediction.numel() / batch;
  std::vector<int64_t> targetShape = prediction.shape;
  if (c.kind == Loss::CrossEntropy)
    targetShape = {batch};
  int64_t targetCount = 1;
  for (int64_t d : targetShape)
    targetCount *= d;
  std::vector<float> target(targetCount);
  for (float &t : target)
    t = c.kind == Loss::CrossEntropy         ? float(rng() % classes)
        : c.kind == Loss::BinaryCrossEntropy ? float(rng() % 2)
                                             : std::uniform_real_distribution<float>(-1, 1)(rng);
  std::vector<double> y(target.begin(), target.end());
  ASSERT_EQ(train.setTarget(ctx, "y", target.data(), targetShape.data(), (int)targetShape.size()),
            0)
      << lib.lastError();

  float loss = 0;
  ASSERT_EQ(train.trainStep(ctx, 1.0f, &loss), 0) << lib.lastError();
  double refLoss = lossOf(c, prediction, y);
  EXPECT_NEAR(loss, refLoss, 1e-4 * std::max(1.0, std::abs(refLoss))) << "loss";

  std::string stepped = m.weightsPath + ".stepped.safetensors";
  ASSERT_EQ(train.saveWeights(ctx, stepped.c_str()), 0) << lib.lastError();
  lib.destroy(ctx);
  std::vector<dnnrt::NamedTensor> after;
  ASSERT_TRUE(dnnrt::loadSafetensors(stepped, after, error)) << error;
  ASSERT_EQ(after.size(), m.weights.size());

  std::map<std::string, dnnref::Tensor> weights = m.weights;
  auto lossAt = [&](const std::map<std::string, dnnref::Tensor> &w) {
    std::vector<dnnref::Tensor> out;
    std::string message;
    EXPECT_TRUE(dnnref::evaluate(*m.module, w, inputs, out, message)) << message;
    return out.empty() ? 0.0 : lossOf(c, out[0], y);
  };
  int checkedTensors = 0;
  for (const dnnrt::NamedTensor &t : after) {
    SCOPED_TRACE("weight " + t.name);
    dnnref::Tensor &w = weights.at(t.name);
    ASSERT_EQ((int64_t)t.tensor.data.size(), w.numel());
    // The running statistics of a batchnorm are no gradient's business.
    if (t.name.find("running_") != std::string::npos)
      continue;
    std::vector<double> grad(w.numel());
    double largest = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      grad[i] = w.data[i] - double(t.tensor.data[i]); // lr 1: w - g
      largest = std::max(largest, std::abs(grad[i]));
    }
    // Every element of a small tensor, a spread of a large one.
    int64_t stride = std::max<int64_t>(1, w.numel() / 12);
    double worst = 0;
    int64_t worstAt = 0;
    double worstFd = 0;
    for (int64_t i = 0; i < w.numel(); i += stride) {
      double fd = centralDifference(w.data, i, [&] { return lossAt(weights); });
      largest = std::max(largest, std::abs(fd));
      if (std::abs(fd - grad[i]) > worst) {
        worst = std::abs(fd - grad[i]);
        worstAt = i;
        worstFd = fd;
      }
    }
    EXPECT_LE(worst, c.tolerance * largest + 1e-6)
        << "element " << worstAt << ": compiled gradient " << grad[worstAt]
        << ", finite differences " << worstFd << " (largest " << largest << ")";
    ++checkedTensors;
  }
  EXPECT_GT(checkedTensors, 0);
}

/// Batchnorm trains on the batch's statistics, which the (inference)
/// reference evaluator does not compute: this small model's training forward
/// is written out here in double instead, and the running statistics'
/// update is checked against PyTorch's formula (unbiased batch variance).
TEST(TrainBatchNorm, SgdStepMatchesFiniteDifferencesAndRunningStats) {
  const char *text = R"(model bn_train {
  input x: [N, 4]
  d = dense(x, units=3)
  bn = batchnorm(d, momentum=0.2, epsilon=0.01)
  o = dense(bn, units=2)
  output o
  train {
    target y: [N, 2]
    loss = mse(o, y)
    optimizer = sgd(lr=1)
  }
}
)";
  CompiledModel &m = compileModel(writeModel("bn_train", text), "");
  ASSERT_TRUE(m.module && m.library.create);
  const dnnrt::ModelLibrary &lib = m.library;
  TrainApi train(m.soPath);
  ASSERT_TRUE(train.setTarget && train.trainStep && train.saveWeights);
  dnn_context *ctx = lib.create(m.weightsPath.c_str());
  ASSERT_NE(ctx, nullptr) << lib.lastError();

  const int64_t B = 5, I = 4, H = 3, O = 2;
  const double eps = 0.01, momentum = 0.2;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> x(B * I), y(B * O);
  for (float &v : x)
    v = dist(rng);
  for (float &v : y)
    v = dist(rng);
  int64_t xShape[] = {B, I}, yShape[] = {B, O};
  ASSERT_EQ(lib.setInput(ctx, "x", x.data(), xShape, 2), 0) << lib.lastError();
  ASSERT_EQ(train.setTarget(ctx, "y", y.data(), yShape, 2), 0) << lib.lastError();

  std::map<std::string, dnnref::Tensor> w = m.weights;
  std::vector<double> batchMean(H), batchVar(H);
  auto forwardLoss = [&](const std::map<std::string, dnnref::Tensor> &p) {
    const auto &w1 = p.at("d.weight").data, &b1 = p.at("d.bias").data;
    const auto &g = p.at("bn.weight").data, &beta = p.at("bn.bias").data;
    const auto &w2 = p.at("o.weight").data, &b2 = p.at("o.bias").data;
    std::vector<double> z(B * H);
    for (int64_t n = 0; n < B; ++n)
      for (int64_t h = 0; h < H; ++h) {
        z[n * H + h] = b1[h];
        for (int64_t i = 0; i < I; ++i)
          z[n * H + h] += x[n * I + i] * w1[h * I + i];
      }
    for (int64_t h = 0; h < H; ++h) {
      double mean = 0, var = 0;
      for (int64_t n = 0; n < B; ++n)
        mean += z[n * H + h] / B;
      for (int64_t n = 0; n < B; ++n)
        var += (z[n * H + h] - mean) * (z[n * H + h] - mean) / B;
      batchMean[h] = mean;
      batchVar[h] = var;
      for (int64_t n = 0; n < B; ++n)
        z[n * H + h] = (z[n * H + h] - mean) / std::sqrt(var + eps) * g[h] + beta[h];
    }
    double loss = 0;
    for (int64_t n = 0; n < B; ++n)
      for (int64_t o = 0; o < O; ++o) {
        double v = b2[o];
        for (int64_t h = 0; h < H; ++h)
          v += z[n * H + h] * w2[o * H + h];
        loss += (v - y[n * O + o]) * (v - y[n * O + o]) / (B * O);
      }
    return loss;
  };

  float loss = 0;
  ASSERT_EQ(train.trainStep(ctx, 1.0f, &loss), 0) << lib.lastError();
  double refLoss = forwardLoss(w);
  EXPECT_NEAR(loss, refLoss, 1e-4 * std::max(1.0, refLoss));
  std::vector<double> stepMean = batchMean, stepVar = batchVar;

  std::string stepped = m.weightsPath + ".stepped.safetensors";
  ASSERT_EQ(train.saveWeights(ctx, stepped.c_str()), 0) << lib.lastError();
  lib.destroy(ctx);
  std::vector<dnnrt::NamedTensor> after;
  std::string error;
  ASSERT_TRUE(dnnrt::loadSafetensors(stepped, after, error)) << error;
  for (const dnnrt::NamedTensor &t : after) {
    SCOPED_TRACE("weight " + t.name);
    dnnref::Tensor &p = w.at(t.name);
    if (t.name == "bn.running_mean" || t.name == "bn.running_var") {
      bool isMean = t.name == "bn.running_mean";
      for (int64_t h = 0; h < H; ++h) {
        double stat = isMean ? stepMean[h] : stepVar[h] * B / (B - 1);
        double expected = (1 - momentum) * p.data[h] + momentum * stat;
        EXPECT_NEAR(t.tensor.data[h], expected, 1e-5 * std::max(1.0, std::abs(expected)));
      }
      continue;
    }
    double largest = 0, worst = 0;
    for (int64_t i = 0; i < p.numel(); ++i) {
      double fd = centralDifference(p.data, i, [&] { return forwardLoss(w); });
      double compiled = p.data[i] - double(t.tensor.data[i]);
      largest = std::max({largest, std::abs(fd), std::abs(compiled)});
      worst = std::max(worst, std::abs(fd - compiled));
    }
    EXPECT_LE(worst, 2e-3 * largest + 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Train, TrainVsReference,
                         ::testing::ValuesIn([] {
                           std::vector<const TrainCase *> cases;
                           for (const TrainCase &c : kCases)
                             cases.push_back(&c);
                           return cases;
                         }()),
                         [](const ::testing::TestParamInfo<const TrainCase *> &info) {
                           return std::string(info.param->name);
                         });

} // namespace
