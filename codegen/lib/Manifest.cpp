//===- Manifest.cpp - the text that tells the runtime about a model -----===//
#include "ModelPlan.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace dnnc::codegen;

namespace {

void appendJson(Attribute attr, std::string &out) {
  if (auto dict = attr.dyn_cast<DictionaryAttr>()) {
    out += "{";
    bool first = true;
    for (NamedAttribute entry : dict) {
      out += first ? "\"" : ", \"";
      out += entry.getName().str() + "\": ";
      appendJson(entry.getValue(), out);
      first = false;
    }
    out += "}";
  } else if (auto array = attr.dyn_cast<ArrayAttr>()) {
    out += "[";
    for (size_t i = 0; i < array.size(); ++i) {
      out += i ? ", " : "";
      appendJson(array[i], out);
    }
    out += "]";
  } else if (auto str = attr.dyn_cast<StringAttr>()) {
    out += "\"";
    for (char c : str.getValue()) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += "\"";
  } else if (auto boolean = attr.dyn_cast<BoolAttr>()) {
    out += boolean.getValue() ? "true" : "false";
  } else if (auto integer = attr.dyn_cast<IntegerAttr>()) {
    out += std::to_string(integer.getInt());
  } else if (auto number = attr.dyn_cast<FloatAttr>()) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", number.getValueAsDouble());
    out += text;
  } else if (auto type = attr.dyn_cast<TypeAttr>()) {
    // A tensor type: its shape, the batch as -1.
    out += "[";
    auto shape = type.getValue().cast<RankedTensorType>().getShape();
    for (size_t i = 0; i < shape.size(); ++i)
      out += (i ? ", " : "") + std::to_string(shape[i] < 0 ? -1 : shape[i]);
    out += "]";
  } else {
    out += "null";
  }
}

void appendTensor(std::string &text, const char *kind, const NamedShape &t) {
  text += std::string(kind) + " " + t.name + " " + std::to_string(t.shape.size());
  for (int64_t d : t.shape)
    text += " " + std::to_string(d);
  text += "\n";
}

} // namespace

std::string dnnc::codegen::attributeJson(Attribute attr) {
  std::string out;
  appendJson(attr, out);
  return out;
}

std::string dnnc::codegen::manifestText(const ModelPlan &plan) {
  std::string text = "dnn-manifest 1\nmodel " + plan.name + "\n";
  const FunctionPlan &run = plan.inference;
  text += "workspace " + std::to_string(run.bytesPerBatch) + " " +
          std::to_string(run.fixedBytes) + "\n";
  if (plan.derivedBytes > 0)
    text += "derived " + std::to_string(plan.derivedBytes) + "\n";
  if (plan.dynamicBatch)
    text += "max_batch " + std::to_string(run.maxBatch) + "\n";
  if (plan.flopsPerItem > 0)
    text += "flops " + std::to_string(plan.flopsPerItem) + "\n";
  for (const NamedShape &t : run.inputs)
    appendTensor(text, "input", t);
  for (const NamedShape &t : run.outputs)
    appendTensor(text, "output", t);
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    appendTensor(text, "weight", plan.weights[i]);
    if (i < plan.weightInits.size() && !plan.weightInits[i].empty())
      text += "init " + plan.weights[i].name + " " + plan.weightInits[i] + "\n";
  }
  if (!plan.training)
    return text;
  const FunctionPlan &train = *plan.training;
  text += "train_workspace " + std::to_string(train.bytesPerBatch) + " " +
          std::to_string(train.fixedBytes) + "\n";
  if (plan.dynamicBatch)
    text += "train_max_batch " + std::to_string(train.maxBatch) + "\n";
  for (const NamedShape &t : plan.targets)
    appendTensor(text, "target", t);
  for (const NamedShape &t : plan.states)
    appendTensor(text, "state", t);
  text += "train_spec " + plan.trainSpecJson + "\n";
  return text;
}
