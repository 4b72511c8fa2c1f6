//===- LayerAttrs.h - layer kinds and their attribute checks ----*- C++ -*-===//
//
// Internal to the frontend: one table row per layer kind (its inputs and
// typed attributes), and `Attrs`, the checked attributes of one call.
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_FRONTEND_LAYERATTRS_H
#define DNNC_FRONTEND_LAYERATTRS_H

#include "Layers.h"

#include <map>
#include <string>
#include <vector>

namespace dnnc::frontend {

enum class AttrType {
  Int,        // a positive integer unless noted by `minimum`
  Float,
  Bool,
  IntPair,    // 3 or (3, 3)
  Padding,    // valid | same | p | (ph, pw) | (top, left, bottom, right)
  Activation, // a fusable activation, or softmax, identity, linear
  IntList,    // (2, 3, -1)
  Choice,     // one of the names in AttrSpec::choices
};

struct AttrSpec {
  const char *name;
  AttrType type;
  bool required = false;
  double minimum = 1;      // Int and Float lower bound (inclusive)
  double maximum = 1e300;  // Float upper bound (exclusive)
  std::vector<std::string> choices = {}; // Choice
};

class Attrs;
struct LayerSpec {
  const char *kind;
  int minInputs, maxInputs;
  std::vector<AttrSpec> attrs;
  std::vector<mlir::Value> (*build)(LayerContext &, const Attrs &);
};

const LayerSpec *findLayer(llvm::StringRef kind);

/// The option nearest to `word` by edit distance, or "" when none is close.
std::string closest(llvm::StringRef word, const std::vector<std::string> &options);

class Attrs {
public:
  Attrs(LayerContext &ctx, const LayerSpec &spec) : ctx(ctx), spec(spec) {}

  /// Reports every unknown, repeated, mistyped or missing attribute.
  bool check();

  bool has(const char *name) const { return values.count(name); }
  int64_t getInt(const char *name, int64_t dflt) const {
    auto it = values.find(name);
    return it == values.end() ? dflt : it->second->intValue;
  }
  double getFloat(const char *name, double dflt) const {
    auto it = values.find(name);
    if (it == values.end())
      return dflt;
    const AttrValue &v = *it->second;
    return v.kind == AttrValue::Kind::Int ? double(v.intValue) : v.floatValue;
  }
  bool getBool(const char *name, bool dflt) const {
    auto it = values.find(name);
    return it == values.end() ? dflt : it->second->boolValue;
  }
  std::string getIdent(const char *name, const char *dflt) const {
    auto it = values.find(name);
    return it == values.end() ? dflt : it->second->ident;
  }
  std::pair<int64_t, int64_t> getPair(const char *name, std::pair<int64_t, int64_t> dflt) const {
    auto it = values.find(name);
    if (it == values.end())
      return dflt;
    const AttrValue &v = *it->second;
    if (v.kind == AttrValue::Kind::Int)
      return {v.intValue, v.intValue};
    return {v.elements[0].intValue, v.elements[1].intValue};
  }
  std::vector<int64_t> getList(const char *name) const {
    std::vector<int64_t> out;
    if (const AttrValue *v = get(name))
      for (const AttrValue &e : v->elements)
        out.push_back(e.intValue);
    return out;
  }
  const AttrValue *get(const char *name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second;
  }

private:
  bool checkValue(const AttrSpec &attr, const AttrValue &v);

  LayerContext &ctx;
  const LayerSpec &spec;
  std::map<std::string, const AttrValue *> values;
};


} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_LAYERATTRS_H
