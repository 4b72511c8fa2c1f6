//===- LayerAttrs.cpp - the layer table and attribute checking ----------===//
#include "LayerAttrs.h"
#include "LayerBuild.h"

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
  using T = AttrType;
  const AttrSpec activation{"activation", T::Activation};
  const AttrSpec alpha{"alpha", T::Float, false, 0};
  const AttrSpec bias{"bias", T::Bool};
  const AttrSpec axis{"axis", T::Int, false, -1e9};
  const AttrSpec epsilon{"epsilon", T::Float, false, 1e-12};
  const AttrSpec padding{"padding", T::Padding};
  const std::vector<AttrSpec> recurrent{{"units", T::Int, true},
                                        {"layers", T::Int},
                                        {"bidirectional", T::Bool},
                                        {"return_sequences", T::Bool},
                                        {"return_state", T::Bool},
                                        bias};
  std::vector<AttrSpec> rnn = recurrent;
  rnn.push_back({"activation", T::Choice, false, 1, 1e300, {"tanh", "relu"}});
  static const std::vector<LayerSpec> table = {
      {"dense", 1, 1, {{"units", T::Int, true}, activation, alpha, bias}, buildDense},
      {"conv2d", 1, 1,
       {{"filters", T::Int, true}, {"kernel", T::IntPair, true}, {"stride", T::IntPair},
        padding, {"dilation", T::IntPair}, {"groups", T::Int}, bias, activation, alpha},
       buildConv2d},
      {"conv1d", 1, 1,
       {{"filters", T::Int, true}, {"kernel", T::Int, true}, {"stride", T::Int}, padding,
        {"dilation", T::Int}, {"groups", T::Int}, bias, activation, alpha},
       buildConv1d},
      {"depthwise_conv2d", 1, 1,
       {{"kernel", T::IntPair, true}, {"depth_multiplier", T::Int}, {"stride", T::IntPair},
        padding, {"dilation", T::IntPair}, bias, activation, alpha},
       buildDepthwiseConv2d},
      {"separable_conv2d", 1, 1,
       {{"filters", T::Int, true}, {"kernel", T::IntPair, true}, {"depth_multiplier", T::Int},
        {"stride", T::IntPair}, padding, {"dilation", T::IntPair}, bias, activation, alpha},
       buildSeparableConv2d},
      {"conv_transpose2d", 1, 1,
       {{"filters", T::Int, true}, {"kernel", T::IntPair, true}, {"stride", T::IntPair},
        padding, {"output_padding", T::IntPair, false, 0}, {"dilation", T::IntPair},
        {"groups", T::Int}, bias, activation, alpha},
       buildConvTranspose2d},
      {"upsample2d", 1, 1,
       {{"scale", T::IntPair}, {"mode", T::Choice, false, 1, 1e300, {"nearest", "bilinear"}}},
       buildUpsample2d},
      {"maxpool2d", 1, 1, {{"size", T::IntPair, true}, {"stride", T::IntPair}, padding},
       buildMaxPool2d},
      {"avgpool2d", 1, 1,
       {{"size", T::IntPair, true}, {"stride", T::IntPair}, padding,
        {"count_include_pad", T::Bool}},
       buildAvgPool2d},
      {"maxpool1d", 1, 1, {{"size", T::Int, true}, {"stride", T::Int}, padding}, buildMaxPool1d},
      {"avgpool1d", 1, 1,
       {{"size", T::Int, true}, {"stride", T::Int}, padding, {"count_include_pad", T::Bool}},
       buildAvgPool1d},
      {"global_avgpool2d", 1, 1, {}, buildGlobalAvgPool},
      {"global_maxpool2d", 1, 1, {}, buildGlobalMaxPool},
      {"global_avgpool1d", 1, 1, {}, buildGlobalAvgPool},
      {"global_maxpool1d", 1, 1, {}, buildGlobalMaxPool},
      {"zeropad2d", 1, 1, {{"padding", T::Padding, true}}, buildZeroPad},
      {"zeropad1d", 1, 1, {{"padding", T::Padding, true}}, buildZeroPad},
      {"flatten", 1, 1, {}, buildFlatten},
      {"batchnorm", 1, 1, {epsilon, {"momentum", T::Float, false, 0, 1}}, buildBatchNorm},
      {"layernorm", 1, 1, {{"dims", T::Int}, epsilon, {"affine", T::Bool}}, buildLayerNorm},
      {"dropout", 1, 1, {{"rate", T::Float, true, 0, 1}}, buildDropout},
      {"reshape", 1, 1, {{"shape", T::IntList, true}}, buildReshape},
      {"transpose", 1, 1, {{"perm", T::IntList, true}}, buildTranspose},
      {"concat", 2, kAnyNumber, {axis}, buildConcat},
      {"split", 1, 1, {{"sizes", T::IntList}, {"parts", T::Int}, axis}, buildSplit},
      {"matmul", 2, 2, {{"transpose_b", T::Bool}}, buildMatmul},
      {"embedding", 1, 1, {{"num_embeddings", T::Int, true}, {"dim", T::Int, true}},
       buildEmbedding},
      {"add", 2, 2, {}, buildElementwise},
      {"sub", 2, 2, {}, buildElementwise},
      {"mul", 2, 2, {}, buildElementwise},
      {"relu", 1, 1, {}, buildElementwise},
      {"sigmoid", 1, 1, {}, buildElementwise},
      {"tanh", 1, 1, {}, buildElementwise},
      {"identity", 1, 1, {}, buildElementwise},
      {"leaky_relu", 1, 1, {alpha}, buildElementwise},
      {"softmax", 1, 1, {axis}, buildElementwise},
      {"log_softmax", 1, 1, {axis}, buildElementwise},
      {"sign", 1, 1, {}, buildElementwise},
      {"relu6", 1, 1, {}, buildElementwise},
      {"softplus", 1, 1, {}, buildElementwise},
      {"mish", 1, 1, {}, buildElementwise},
      {"elu", 1, 1, {alpha}, buildElementwise},
      {"gelu", 1, 1, {{"approximate", T::Choice, false, 1, 1e300, {"none", "tanh"}}},
       buildElementwise},
      {"glu", 1, 1, {axis}, buildElementwise},
      {"rnn", 1, 2, rnn, buildRecurrent},
      {"lstm", 1, 3, recurrent, buildRecurrent},
      {"gru", 1, 2, recurrent, buildRecurrent},
      {"attention", 2, 3, {{"causal", T::Bool}, {"scale", T::Float, false, 1e-30}},
       buildAttention},
      {"multi_head_attention", 1, 3,
       {{"heads", T::Int, true}, {"causal", T::Bool}, bias}, buildMultiHeadAttention},
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


bool dnnc::frontend::layerInputRange(llvm::StringRef kind, int &minimum, int &maximum) {
  const LayerSpec *spec = findLayer(kind);
  if (!spec)
    return false;
  minimum = spec->minInputs;
  maximum = spec->maxInputs;
  return true;
}

std::vector<std::string> dnnc::frontend::layerKinds() {
  std::vector<std::string> kinds;
  for (const LayerSpec &spec : layerTable())
    kinds.push_back(spec.kind);
  return kinds;
}

