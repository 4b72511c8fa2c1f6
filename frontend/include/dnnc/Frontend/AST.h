//===- AST.h - syntax tree of a .dnn file -----------------------*- C++ -*-===//
//
// The parser builds this tree without judging it; MLIRGen checks layer kinds,
// attributes, names and the graph, and reports errors at these locations.
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_FRONTEND_AST_H
#define DNNC_FRONTEND_AST_H

#include <cstdint>
#include <string>
#include <vector>

namespace dnnc::frontend {

struct SourceLoc {
  unsigned line = 0, col = 0;
};

/// A keyword argument's value: 3, 0.5, true, relu, (3, 3).
struct AttrValue {
  enum class Kind { Int, Float, Bool, Ident, Tuple };
  Kind kind = Kind::Int;
  int64_t intValue = 0;
  double floatValue = 0.0;
  bool boolValue = false;
  std::string ident;
  std::vector<AttrValue> elements;
  SourceLoc loc;
};

struct KeywordArg {
  std::string name;
  SourceLoc loc;
  AttrValue value;
};

struct NameRef {
  std::string name;
  SourceLoc loc;
};

/// `kind(inputs..., key=value, ...)`.
struct LayerCall {
  std::string kind;
  SourceLoc kindLoc;
  std::vector<NameRef> inputs;
  std::vector<KeywordArg> kwargs;
};

/// `name = kind(...)`; inside a sequential block the name may be implicit.
/// `y, h, c = lstm(...)` names further outputs (graph form only).
struct LayerDef {
  std::string name;
  SourceLoc nameLoc;
  std::vector<NameRef> moreOutputs;
  LayerCall call;
};

struct Dim {
  int64_t size = 0;   // when symbol is empty
  std::string symbol; // the batch dimension, e.g. N
  SourceLoc loc;
};

/// `input x: f32[N, 1, 28, 28]`.
struct InputDecl {
  std::string name;
  SourceLoc loc;
  std::string dtype; // "f32" when not written
  SourceLoc dtypeLoc;
  std::vector<Dim> dims;
};

/// `sequential name(input) { layer... }`: each layer consumes the previous
/// one's output; the block's value is the last layer's output.
struct SequentialBlock {
  std::string name;
  SourceLoc nameLoc;
  NameRef input;
  std::vector<LayerDef> layers; // unnamed layers get `<block>.<index>`
};

/// `name = value` in a train block (batch_size = 64).
struct Setting {
  std::string name;
  SourceLoc loc;
  AttrValue value;
};

/// The `train { ... }` block: what a training step computes and its
/// defaults. `loss = kind(prediction, target, ...)`, `optimizer = kind(...)`,
/// `schedule = kind(...)`, `normalize(input, ...)` and settings.
struct TrainBlock {
  SourceLoc loc;
  std::vector<InputDecl> targets; // `target y: [N]`
  std::vector<LayerDef> calls;    // loss, optimizer, schedule (by name)
  std::vector<LayerCall> normalizers;
  std::vector<Setting> settings;
};

struct Model {
  std::string name;
  SourceLoc loc;
  std::vector<InputDecl> inputs;
  std::vector<LayerDef> layers;
  std::vector<SequentialBlock> blocks;
  std::vector<NameRef> outputs;
  std::vector<TrainBlock> train; // at most one
  SourceLoc closeLoc; // the closing brace, for "no output" errors
};

} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_AST_H
