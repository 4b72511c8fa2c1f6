//===- LayerAttrs.cpp - the layer table and attribute checking ----------===//
#include "LayerAttrs.h"

#include "dnnc/IR/DnnDialect.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <sstream>

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

namespace {

const std::vector<std::string> &activationNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (StringRef name : dnn::fusableActivations())
      all.push_back(name.str());
    for (const char *extra : {"softmax", "identity", "linear"})
      all.push_back(extra);
    return all;
  }();
  return names;
}

const std::vector<LayerSpec> &layerTable() {
  static const std::vector<LayerSpec> table = {
      {"dense", 1,
       {{"units", AttrType::Int, true},
        {"activation", AttrType::Activation},
        {"alpha", AttrType::Float, false, 0},
        {"bias", AttrType::Bool}}},
      {"conv2d", 1,
       {{"filters", AttrType::Int, true},
        {"kernel", AttrType::IntPair, true},
        {"stride", AttrType::IntPair},
        {"padding", AttrType::Padding},
        {"dilation", AttrType::IntPair},
        {"groups", AttrType::Int},
        {"bias", AttrType::Bool},
        {"activation", AttrType::Activation},
        {"alpha", AttrType::Float, false, 0}}},
      {"maxpool2d", 1,
       {{"size", AttrType::IntPair, true},
        {"stride", AttrType::IntPair},
        {"padding", AttrType::Padding}}},
      {"avgpool2d", 1,
       {{"size", AttrType::IntPair, true},
        {"stride", AttrType::IntPair},
        {"padding", AttrType::Padding},
        {"count_include_pad", AttrType::Bool}}},
      {"global_avgpool2d", 1, {}},
      {"flatten", 1, {}},
      {"batchnorm", 1,
       {{"epsilon", AttrType::Float, false, 1e-12},
        {"momentum", AttrType::Float, false, 0, 1.0000001}}},
      {"dropout", 1, {{"rate", AttrType::Float, true, 0, 1}}},
      {"add", 2, {}},
      {"relu", 1, {}},
      {"sigmoid", 1, {}},
      {"tanh", 1, {}},
      {"identity", 1, {}},
      {"leaky_relu", 1, {{"alpha", AttrType::Float, false, 0}}},
      {"softmax", 1, {{"axis", AttrType::Int, false, -1e9}}},
      {"log_softmax", 1, {{"axis", AttrType::Int, false, -1e9}}},
      {"sign", 1, {}},
      {"relu6", 1, {}},
      {"softplus", 1, {}},
      {"mish", 1, {}},
      {"elu", 1, {{"alpha", AttrType::Float, false, 0}}},
      {"gelu", 1, {{"approximate", AttrType::Choice, false, 1, 1e300, {"none", "tanh"}}}},
      {"glu", 1, {{"axis", AttrType::Int, false, -1e9}}},
      {"sub", 2, {}},
      {"mul", 2, {}},
      {"layernorm", 1,
       {{"dims", AttrType::Int},
        {"epsilon", AttrType::Float, false, 1e-12},
        {"affine", AttrType::Bool}}},
      {"global_maxpool2d", 1, {}},
      {"reshape", 1, {{"shape", AttrType::IntList, true}}},
      {"transpose", 1, {{"perm", AttrType::IntList, true}}},
      {"concat", kTwoOrMoreInputs, {{"axis", AttrType::Int, false, -1e9}}},
  };
  return table;
}

std::string formatNumber(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

std::string describeValue(const AttrValue &v) {
  switch (v.kind) {
  case AttrValue::Kind::Int: return "the integer " + std::to_string(v.intValue);
  case AttrValue::Kind::Float: return "the number " + formatNumber(v.floatValue);
  case AttrValue::Kind::Bool: return v.boolValue ? "true" : "false";
  case AttrValue::Kind::Ident: return "the name '" + v.ident + "'";
  case AttrValue::Kind::Tuple: return "a list of " + std::to_string(v.elements.size()) + " values";
  }
  return "a value";
}

const char *expectedText(AttrType type) {
  switch (type) {
  case AttrType::Int: return "an integer";
  case AttrType::Float: return "a number";
  case AttrType::Bool: return "true or false";
  case AttrType::IntPair: return "an integer or a pair (h, w)";
  case AttrType::Padding:
    return "valid, same, an integer, a pair (h, w) or four values (top, left, bottom, right)";
  case AttrType::Activation:
    return "an activation";
  case AttrType::IntList:
    return "a list of integers";
  case AttrType::Choice:
    return "one of the names listed";
  }
  return "";
}

bool isPositiveInt(const AttrValue &v, int64_t minimum = 1) {
  return v.kind == AttrValue::Kind::Int && v.intValue >= minimum;
}

} // namespace

const LayerSpec *dnnc::frontend::findLayer(llvm::StringRef kind) {
  for (const LayerSpec &spec : layerTable())
    if (kind == spec.kind)
      return &spec;
  return nullptr;
}

std::string dnnc::frontend::closest(llvm::StringRef word, const std::vector<std::string> &options) {
  std::string best;
  unsigned bestDistance = 3; // suggest only near misses
  for (const std::string &option : options) {
    unsigned d = word.edit_distance(option, true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = option;
    }
  }
  return best;
}

bool Attrs::checkValue(const AttrSpec &attr, const AttrValue &v) {
  auto wrongType = [&]() {
    ctx.error(v.loc, "attribute '" + std::string(attr.name) + "' of " + spec.kind +
                         " must be " + expectedText(attr.type) + ", got " + describeValue(v));
    return false;
  };
  auto outOfRange = [&](const std::string &range) {
    ctx.error(v.loc, "attribute '" + std::string(attr.name) + "' of " + spec.kind +
                         " must be " + range + ", got " + describeValue(v));
    return false;
  };
  switch (attr.type) {
  case AttrType::Int:
    if (v.kind != AttrValue::Kind::Int)
      return wrongType();
    if (v.intValue < attr.minimum)
      return outOfRange(">= " + std::to_string((int64_t)attr.minimum));
    return true;
  case AttrType::Float: {
    if (v.kind != AttrValue::Kind::Int && v.kind != AttrValue::Kind::Float)
      return wrongType();
    double x = v.kind == AttrValue::Kind::Int ? double(v.intValue) : v.floatValue;
    if (x < attr.minimum || x >= attr.maximum || !std::isfinite(x))
      return outOfRange(attr.maximum < 1e300
                            ? "in [" + formatNumber(attr.minimum) + ", " +
                                  formatNumber(attr.maximum) + ")"
                            : ">= " + formatNumber(attr.minimum));
    return true;
  }
  case AttrType::Bool:
    return v.kind == AttrValue::Kind::Bool ? true : wrongType();
  case AttrType::IntPair:
    if (v.kind == AttrValue::Kind::Int)
      return isPositiveInt(v) ? true : outOfRange("positive");
    if (v.kind != AttrValue::Kind::Tuple || v.elements.size() != 2)
      return wrongType();
    for (const AttrValue &e : v.elements)
      if (!isPositiveInt(e))
        return outOfRange("a pair of positive integers");
    return true;
  case AttrType::Padding:
    if (v.kind == AttrValue::Kind::Ident)
      return v.ident == "valid" || v.ident == "same" ? true : wrongType();
    if (v.kind == AttrValue::Kind::Int)
      return isPositiveInt(v, 0) ? true : outOfRange("non-negative");
    if (v.kind != AttrValue::Kind::Tuple ||
        (v.elements.size() != 2 && v.elements.size() != 4))
      return wrongType();
    for (const AttrValue &e : v.elements)
      if (!isPositiveInt(e, 0))
        return outOfRange("a list of non-negative integers");
    return true;
  case AttrType::Activation:
  case AttrType::Choice: {
    const std::vector<std::string> &names =
        attr.type == AttrType::Activation ? activationNames() : attr.choices;
    if (v.kind != AttrValue::Kind::Ident)
      return wrongType();
    if (llvm::is_contained(names, v.ident))
      return true;
    std::string hint = closest(v.ident, names);
    ctx.error(v.loc, "unknown " +
                         std::string(attr.type == AttrType::Activation ? "activation"
                                                                       : "value") +
                         " '" + v.ident + "' for '" + attr.name + "'" +
                         (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                         "; expected one of " + llvm::join(names, ", "));
    return false;
  }
  case AttrType::IntList:
    if (v.kind != AttrValue::Kind::Tuple || v.elements.empty())
      return wrongType();
    for (const AttrValue &e : v.elements)
      if (e.kind != AttrValue::Kind::Int)
        return wrongType();
    return true;
  }
  return false;
}

bool Attrs::check() {
  bool ok = true;
  std::vector<std::string> names;
  for (const AttrSpec &attr : spec.attrs)
    names.push_back(attr.name);
  for (const KeywordArg &arg : ctx.def.call.kwargs) {
    const AttrSpec *attr = nullptr;
    for (const AttrSpec &a : spec.attrs)
      if (arg.name == a.name)
        attr = &a;
    if (!attr) {
      std::string hint = closest(arg.name, names);
      std::string accepted =
          names.empty() ? std::string(spec.kind) + " takes no attributes"
                        : "attributes of " + std::string(spec.kind) + ": " +
                              llvm::join(names, ", ");
      ctx.error(arg.loc, "unknown attribute '" + arg.name + "' for " + spec.kind +
                             (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                             "; " + accepted);
      ok = false;
      continue;
    }
    if (values.count(arg.name)) {
      ctx.error(arg.loc, "attribute '" + arg.name + "' is given twice");
      ok = false;
      continue;
    }
    if (!checkValue(*attr, arg.value)) {
      ok = false;
      continue;
    }
    values[arg.name] = &arg.value;
  }
  for (const AttrSpec &attr : spec.attrs)
    if (attr.required && !values.count(attr.name) && ok) {
      ctx.error(ctx.def.call.kindLoc, std::string(spec.kind) + " '" + ctx.layerName +
                                          "' needs the attribute '" + attr.name + "'");
      ok = false;
    }
  return ok;
}


int dnnc::frontend::layerInputCount(llvm::StringRef kind) {
  const LayerSpec *spec = findLayer(kind);
  return spec ? spec->inputs : kUnknownLayer;
}

std::vector<std::string> dnnc::frontend::layerKinds() {
  std::vector<std::string> kinds;
  for (const LayerSpec &spec : layerTable())
    kinds.push_back(spec.kind);
  return kinds;
}

