//===- InitWeights.cpp - deterministic initial weights ------------------===//
#include "InitWeights.h"

#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/InitRules.h"
#include "dnnrt/Init.h"
#include "dnnrt/SafeTensors.h"

#include <set>

using namespace mlir;
using namespace dnnc;

LogicalResult dnnc::writeInitialWeights(ModuleOp module, const std::string &path, uint64_t seed) {
  std::vector<dnnrt::NamedTensor> tensors;
  std::set<std::string> seen;
  for (FuncOp func : module.getOps<FuncOp>()) {
    if (!func->getAttrOfType<DictionaryAttr>(dnn::kWeightInitAttr))
      dnn::attachWeightInitRules(func);
    auto rules = func->getAttrOfType<DictionaryAttr>(dnn::kWeightInitAttr);
    func.walk([&](dnn::WeightOp weight) {
      std::string name = weight.getName().str();
      if (!seen.insert(name).second)
        return;
      auto shape = weight.getType().cast<RankedTensorType>().getShape();
      dnnrt::NamedTensor t;
      t.name = name;
      t.tensor.shape.assign(shape.begin(), shape.end());
      t.tensor.data.assign(t.tensor.numel(), 0.0f);
      dnnrt::WeightInit rule;
      auto text = rules.getAs<StringAttr>(name);
      if (text && dnnrt::parseWeightInit(text.str(), rule))
        dnnrt::fillInitialWeight(rule, name, seed, t.tensor.data.data(), t.tensor.data.size());
      tensors.push_back(std::move(t));
    });
  }
  std::string error;
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"dnnc.seed", std::to_string(seed)}};
  if (!dnnrt::saveSafetensors(path, tensors, metadata, error))
    return emitError(module.getLoc()) << error;
  return success();
}
