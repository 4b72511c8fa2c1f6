//===- InitWeights.cpp - deterministic initial weights ------------------===//
#include "InitWeights.h"

#include "dnnc/IR/DnnDialect.h"
#include "dnnrt/SafeTensors.h"

#include <cmath>
#include <set>

using namespace mlir;
using namespace dnnc;

namespace {

/// splitmix64: tiny, seedable, and identical on every platform.
class Random {
public:
  explicit Random(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [-limit, limit).
  float uniform(double limit) {
    double unit = double(next() >> 11) * (1.0 / 9007199254740992.0);
    return float((2.0 * unit - 1.0) * limit);
  }

private:
  uint64_t state;
};

/// Whether the layer that reads this kernel is followed by a rectifier.
bool feedsRectifier(dnn::WeightOp weight) {
  for (Operation *user : weight->getUsers()) {
    StringRef act;
    if (auto dense = dyn_cast<dnn::DenseOp>(user))
      act = dense.getActivation();
    else if (auto conv = dyn_cast<dnn::Conv2dOp>(user))
      act = conv.getActivation();
    if (act == "relu" || act == "leaky_relu")
      return true;
    for (Operation *next : user->getUsers())
      if (isa<dnn::ReluOp, dnn::LeakyReluOp>(next))
        return true;
  }
  return false;
}

/// Normalization layers start as the identity: scale 1, shift 0.
bool isNormScale(dnn::WeightOp weight, StringRef param) {
  Operation *user = *weight->getUsers().begin();
  return (param == "weight" || param == "running_var") &&
         isa<dnn::BatchNormOp, dnn::LayerNormOp>(user);
}

/// PyTorch's default for recurrent layers: every parameter (weights and
/// biases) uniform in +-1/sqrt(hidden).
bool isRecurrentParameter(dnn::WeightOp weight, int64_t &hidden) {
  for (Operation *user : weight->getUsers())
    if (isa<dnn::LstmOp, dnn::GruOp, dnn::RnnOp>(user)) {
      hidden = user->getResult(1).getType().cast<RankedTensorType>().getShape()[1];
      return true;
    }
  return false;
}

} // namespace

LogicalResult dnnc::writeInitialWeights(ModuleOp module, const std::string &path, uint64_t seed) {
  Random random(seed);
  std::vector<dnnrt::NamedTensor> tensors;
  std::set<std::string> seen;
  WalkResult walk = module.walk([&](dnn::WeightOp weight) {
    std::string name = weight.getName().str();
    if (!seen.insert(name).second)
      return WalkResult::advance();
    auto shape = weight.getType().cast<RankedTensorType>().getShape();
    dnnrt::NamedTensor t;
    t.name = name;
    t.tensor.shape.assign(shape.begin(), shape.end());
    t.tensor.data.assign(t.tensor.numel(), 0.0f);
    StringRef param = StringRef(name).rsplit('.').second;
    int64_t hidden = 0;
    if (weight->use_empty()) {
      // Not read by any op (folded away): keep zeros.
    } else if (isNormScale(weight, param)) {
      std::fill(t.tensor.data.begin(), t.tensor.data.end(), 1.0f);
    } else if (isa<dnn::BatchNormOp, dnn::LayerNormOp>(*weight->getUsers().begin())) {
      // Shifts and running means start at 0.
    } else if (isRecurrentParameter(weight, hidden)) {
      for (float &v : t.tensor.data)
        v = random.uniform(1.0 / std::sqrt(double(hidden)));
    } else if (shape.size() >= 2) {
      int64_t receptive = 1;
      for (int64_t d : shape.drop_front(2))
        receptive *= d;
      double fanIn = double(shape[1] * receptive), fanOut = double(shape[0] * receptive);
      double limit = feedsRectifier(weight) ? std::sqrt(6.0 / fanIn)
                                            : std::sqrt(6.0 / (fanIn + fanOut));
      for (float &v : t.tensor.data)
        v = random.uniform(limit);
    }
    tensors.push_back(std::move(t));
    return WalkResult::advance();
  });
  (void)walk;
  std::string error;
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"dnnc.seed", std::to_string(seed)}};
  if (!dnnrt::saveSafetensors(path, tensors, metadata, error))
    return emitError(module.getLoc()) << error;
  return success();
}
