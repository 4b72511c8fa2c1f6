//===- Evaluator.cpp - run a dnn-dialect model with reference kernels ---===//
//
// Interprets the frontend's IR op by op with dnnref's loop nests: the whole
// layers (multi_head_attention, lstm, separable_conv2d, ...) as written, not
// the decompositions the compiler makes of them, so a compiled model is
// checked against an independent computation.
//
//===----------------------------------------------------------------------===//
#include "dnnref/Evaluator.h"
#include "dnnref/RefConv.h"
#include "dnnref/RefSequence.h"

#include "dnnc/IR/DnnDialect.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <optional>

using namespace mlir;
using namespace dnnc;

namespace {

using dnnref::Tensor;
using Results = std::vector<Tensor>;

dnnref::Activation activation(StringRef name) {
  return llvm::StringSwitch<dnnref::Activation>(name)
      .Case("relu", dnnref::Activation::Relu)
      .Case("sigmoid", dnnref::Activation::Sigmoid)
      .Case("tanh", dnnref::Activation::Tanh)
      .Case("leaky_relu", dnnref::Activation::LeakyRelu)
      .Case("relu6", dnnref::Activation::Relu6)
      .Case("elu", dnnref::Activation::Elu)
      .Case("softplus", dnnref::Activation::Softplus)
      .Case("mish", dnnref::Activation::Mish)
      .Case("gelu", dnnref::Activation::Gelu)
      .Case("gelu_tanh", dnnref::Activation::GeluTanh)
      .Case("sign", dnnref::Activation::Sign)
      .Default(dnnref::Activation::None);
}

std::vector<int64_t> ints(ArrayAttr attr) {
  std::vector<int64_t> out;
  for (Attribute a : attr)
    out.push_back(a.cast<IntegerAttr>().getInt());
  return out;
}

int axisOf(int64_t axis, size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

dnnref::Pool2dParams poolParams(const dnn::Window2d &w) {
  dnnref::Pool2dParams params{};
  params.kernelH = w.kernelH;
  params.kernelW = w.kernelW;
  params.strideH = w.strideH;
  params.strideW = w.strideW;
  params.padTop = w.padTop;
  params.padLeft = w.padLeft;
  params.padBottom = w.padBottom;
  params.padRight = w.padRight;
  return params;
}

dnnref::Conv2dParams convParams(ArrayRef<int64_t> strides, ArrayRef<int64_t> padding,
                                ArrayRef<int64_t> dilations, int64_t groups) {
  dnnref::Conv2dParams p;
  p.strideH = strides[0];
  p.strideW = strides[1];
  p.padTop = padding[0];
  p.padLeft = padding[1];
  p.padBottom = padding[2];
  p.padRight = padding[3];
  p.dilationH = dilations[0];
  p.dilationW = dilations[1];
  p.groups = groups;
  return p;
}

/// Checks a runtime shape against a type whose dim 0 may be dynamic.
bool matches(const Tensor &t, Type type) {
  auto shape = type.cast<RankedTensorType>().getShape();
  if (shape.size() != t.shape.size())
    return false;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != ShapedType::kDynamicSize && shape[i] != t.shape[i])
      return false;
  return true;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// The values of the function being evaluated.
class Interpreter {
public:
  explicit Interpreter(const std::map<std::string, Tensor> &weights) : weights(weights) {}

  const Tensor &in(Value v) { return values[v]; }
  const Tensor *optional(Value v) { return v ? &values[v] : nullptr; }
  void set(Value v, Tensor t) { values[v] = std::move(t); }

  /// The results of one op, or nullopt (with `error`) when it cannot run.
  std::optional<Results> run(Operation &op, std::string &error);

private:
  std::optional<Results> linear(Operation &op);
  std::optional<Results> elementwise(Operation &op);
  std::optional<Results> shapes(Operation &op);
  std::optional<Results> sequences(Operation &op);

  const std::map<std::string, Tensor> &weights;
  llvm::DenseMap<Value, Tensor> values;
};

std::optional<Results> Interpreter::linear(Operation &op) {
  // A fused residual is added before the activation.
  auto withResidual = [&](Tensor t, Value residual) {
    return residual ? dnnref::add(t, in(residual)) : t;
  };
  if (auto fc = dyn_cast<dnn::DenseOp>(op))
    return Results{dnnref::applyActivation(
        withResidual(
            dnnref::denseNd(in(fc.getInput()), in(fc.getWeight()), optional(fc.getBias())),
            fc.getResidual()),
        activation(fc.getActivation()), fc.getAlpha().convertToDouble())};
  if (auto conv = dyn_cast<dnn::Conv2dOp>(op)) {
    dnn::Window2d w = dnn::getWindow(conv);
    auto p = convParams({w.strideH, w.strideW}, {w.padTop, w.padLeft, w.padBottom, w.padRight},
                        {w.dilationH, w.dilationW}, conv.getGroups());
    return Results{dnnref::applyActivation(
        withResidual(dnnref::conv2d(in(conv.getInput()), in(conv.getWeight()),
                                    optional(conv.getBias()), p),
                     conv.getResidual()),
        activation(conv.getActivation()), conv.getAlpha().convertToDouble())};
  }
  if (auto conv = dyn_cast<dnn::Conv1dOp>(op)) {
    dnnref::Conv1dParams p;
    p.stride = ints(conv.getStrides())[0];
    p.padBefore = ints(conv.getPadding())[0];
    p.padAfter = ints(conv.getPadding())[1];
    p.dilation = ints(conv.getDilations())[0];
    p.groups = conv.getGroups();
    return Results{dnnref::applyActivation(
        dnnref::conv1d(in(conv.getInput()), in(conv.getWeight()), optional(conv.getBias()), p),
        activation(conv.getActivation()), conv.getAlpha().convertToDouble())};
  }
  if (auto conv = dyn_cast<dnn::ConvTranspose2dOp>(op)) {
    auto s = ints(conv.getStrides()), pad = ints(conv.getPadding()),
         outPad = ints(conv.getOutputPadding()), d = ints(conv.getDilations());
    dnnref::ConvTranspose2dParams p;
    p.strideH = s[0], p.strideW = s[1];
    p.padTop = pad[0], p.padLeft = pad[1], p.padBottom = pad[2], p.padRight = pad[3];
    p.outputPadH = outPad[0], p.outputPadW = outPad[1];
    p.dilationH = d[0], p.dilationW = d[1];
    p.groups = conv.getGroups();
    return Results{dnnref::applyActivation(
        dnnref::convTranspose2d(in(conv.getInput()), in(conv.getWeight()),
                                optional(conv.getBias()), p),
        activation(conv.getActivation()), conv.getAlpha().convertToDouble())};
  }
  if (auto conv = dyn_cast<dnn::SeparableConv2dOp>(op)) {
    auto p = convParams(ints(conv.getStrides()), ints(conv.getPadding()),
                        ints(conv.getDilations()), 1);
    return Results{dnnref::applyActivation(
        dnnref::separableConv2d(in(conv.getInput()), in(conv.getDepthwise()),
                                in(conv.getPointwise()), optional(conv.getBias()), p),
        activation(conv.getActivation()), conv.getAlpha().convertToDouble())};
  }
  if (auto mm = dyn_cast<dnn::MatmulOp>(op))
    return Results{dnnref::matmul(in(mm.getLhs()), in(mm.getRhs()), mm.getTransposeB())};
  if (auto pool = dyn_cast<dnn::MaxPool2dOp>(op))
    return Results{dnnref::maxPool2d(in(pool.getInput()), poolParams(dnn::getWindow(pool)))};
  if (auto pool = dyn_cast<dnn::AvgPool2dOp>(op)) {
    dnnref::Pool2dParams params = poolParams(dnn::getWindow(pool));
    params.countIncludePad = pool.getCountIncludePad();
    return Results{dnnref::avgPool2d(in(pool.getInput()), params)};
  }
  if (isa<dnn::MaxPool1dOp, dnn::AvgPool1dOp>(op)) {
    dnnref::Pool1dParams p;
    p.kernel = ints(op.getAttrOfType<ArrayAttr>("kernel"))[0];
    p.stride = ints(op.getAttrOfType<ArrayAttr>("strides"))[0];
    p.padBefore = ints(op.getAttrOfType<ArrayAttr>("padding"))[0];
    p.padAfter = ints(op.getAttrOfType<ArrayAttr>("padding"))[1];
    if (auto avg = dyn_cast<dnn::AvgPool1dOp>(op)) {
      p.countIncludePad = avg.getCountIncludePad();
      return Results{dnnref::avgPool1d(in(avg.getInput()), p)};
    }
    return Results{dnnref::maxPool1d(in(op.getOperand(0)), p)};
  }
  if (auto gap = dyn_cast<dnn::GlobalAvgPoolOp>(op))
    return Results{dnnref::globalAvgPool(in(gap.getInput()))};
  if (auto gmp = dyn_cast<dnn::GlobalMaxPoolOp>(op))
    return Results{dnnref::globalMaxPool(in(gmp.getInput()))};
  if (auto bn = dyn_cast<dnn::BatchNormOp>(op))
    return Results{dnnref::batchNorm(in(bn.getInput()), in(bn.getGamma()), in(bn.getBeta()),
                                     in(bn.getMean()), in(bn.getVariance()),
                                     bn.getEpsilon().convertToDouble())};
  if (auto ln = dyn_cast<dnn::LayerNormOp>(op)) {
    auto affine = ln.getAffine();
    return Results{dnnref::layerNorm(in(ln.getInput()), ln.getNormalizedRank(),
                                     affine.empty() ? nullptr : &in(affine[0]),
                                     affine.empty() ? nullptr : &in(affine[1]),
                                     ln.getEpsilon().convertToDouble())};
  }
  return std::nullopt;
}

std::optional<Results> Interpreter::elementwise(Operation &op) {
  if (isa<dnn::AddOp, dnn::SubOp, dnn::MulOp>(op)) {
    const Tensor &a = in(op.getOperand(0)), &b = in(op.getOperand(1));
    return Results{isa<dnn::AddOp>(op)   ? dnnref::add(a, b)
                   : isa<dnn::SubOp>(op) ? dnnref::sub(a, b)
                                         : dnnref::mul(a, b)};
  }
  auto unary = [&](dnnref::Activation act, double alpha = 0.0) {
    return Results{dnnref::applyActivation(in(op.getOperand(0)), act, alpha)};
  };
  if (isa<dnn::ReluOp>(op))
    return unary(dnnref::Activation::Relu);
  if (isa<dnn::SigmoidOp>(op))
    return unary(dnnref::Activation::Sigmoid);
  if (isa<dnn::TanhOp>(op))
    return unary(dnnref::Activation::Tanh);
  if (auto l = dyn_cast<dnn::LeakyReluOp>(op))
    return unary(dnnref::Activation::LeakyRelu, l.getAlpha().convertToDouble());
  if (isa<dnn::SignOp>(op))
    return unary(dnnref::Activation::Sign);
  if (isa<dnn::Relu6Op>(op))
    return unary(dnnref::Activation::Relu6);
  if (isa<dnn::SoftplusOp>(op))
    return unary(dnnref::Activation::Softplus);
  if (isa<dnn::MishOp>(op))
    return unary(dnnref::Activation::Mish);
  if (auto elu = dyn_cast<dnn::EluOp>(op))
    return unary(dnnref::Activation::Elu, elu.getAlpha().convertToDouble());
  if (auto gelu = dyn_cast<dnn::GeluOp>(op))
    return unary(gelu.getApproximate() == "tanh" ? dnnref::Activation::GeluTanh
                                                 : dnnref::Activation::Gelu);
  if (auto sm = dyn_cast<dnn::SoftmaxOp>(op))
    return Results{dnnref::softmax(in(sm.getInput()), (int)sm.getAxis())};
  if (auto lsm = dyn_cast<dnn::LogSoftmaxOp>(op))
    return Results{dnnref::logSoftmax(in(lsm.getInput()), (int)lsm.getAxis())};
  if (auto glu = dyn_cast<dnn::GluOp>(op))
    return Results{dnnref::glu(in(glu.getInput()), (int)glu.getAxis())};
  return std::nullopt;
}

std::optional<Results> Interpreter::shapes(Operation &op) {
  if (isa<dnn::DropoutOp, dnn::IdentityOp>(op))
    return Results{in(op.getOperand(0))};
  if (isa<dnn::FlattenOp, dnn::ReshapeOp>(op)) {
    // The same row-major elements under the result's shape.
    Tensor t = in(op.getOperand(0));
    auto type = op.getResult(0).getType().cast<RankedTensorType>().getShape();
    t.shape.assign(type.begin(), type.end());
    t.shape[0] = in(op.getOperand(0)).shape[0];
    return Results{t};
  }
  if (auto tr = dyn_cast<dnn::TransposeOp>(op)) {
    std::vector<int> perm;
    for (int64_t p : ints(tr.getPerm()))
      perm.push_back(static_cast<int>(p));
    return Results{dnnref::transpose(in(tr.getInput()), perm)};
  }
  if (auto concat = dyn_cast<dnn::ConcatOp>(op)) {
    std::vector<const Tensor *> parts;
    for (Value v : concat.getInputs())
      parts.push_back(&in(v));
    return Results{dnnref::concat(parts, axisOf(concat.getAxis(), parts[0]->shape.size()))};
  }
  if (auto split = dyn_cast<dnn::SplitOp>(op)) {
    const Tensor &x = in(split.getInput());
    return dnnref::split(x, axisOf(split.getAxis(), x.shape.size()), ints(split.getSizes()));
  }
  if (auto pad = dyn_cast<dnn::PadOp>(op)) {
    const Tensor &x = in(pad.getInput());
    std::vector<int64_t> pairs = ints(pad.getPadding()), before(x.shape.size(), 0),
                         after(x.shape.size(), 0);
    for (size_t d = 2; d < x.shape.size(); ++d) {
      before[d] = pairs[2 * (d - 2)];
      after[d] = pairs[2 * (d - 2) + 1];
    }
    return Results{dnnref::pad(x, before, after, pad.getValue().convertToDouble())};
  }
  if (auto emb = dyn_cast<dnn::EmbeddingOp>(op))
    return Results{dnnref::embedding(in(emb.getIndices()), in(emb.getWeight()))};
  if (auto up = dyn_cast<dnn::Upsample2dOp>(op)) {
    auto scale = ints(up.getScale());
    return Results{dnnref::upsample2d(in(up.getInput()), scale[0], scale[1],
                                      up.getMode() == "bilinear" ? dnnref::Upsample::Bilinear
                                                                 : dnnref::Upsample::Nearest)};
  }
  return std::nullopt;
}

std::optional<Results> Interpreter::sequences(Operation &op) {
  auto recurrent = [&](dnnref::Cell cell, Value x, Value wIh, Value wHh, Value bIh, Value bHh,
                       Value h0, Value c0, bool reverse, bool sequences) {
    dnnref::RecurrentResult r =
        dnnref::recurrentLayer(cell, in(x), in(wIh), in(wHh), optional(bIh), optional(bHh),
                               optional(h0), optional(c0), reverse, sequences);
    Results out{r.y, r.hN};
    if (cell == dnnref::Cell::Lstm)
      out.push_back(r.cN);
    return out;
  };
  if (auto lstm = dyn_cast<dnn::LstmOp>(op))
    return recurrent(dnnref::Cell::Lstm, lstm.getInput(), lstm.getWIh(), lstm.getWHh(),
                     lstm.getBIh(), lstm.getBHh(), lstm.getH0(), lstm.getC0(), lstm.getReverse(),
                     lstm.getReturnSequences());
  if (auto gru = dyn_cast<dnn::GruOp>(op))
    return recurrent(dnnref::Cell::Gru, gru.getInput(), gru.getWIh(), gru.getWHh(), gru.getBIh(),
                     gru.getBHh(), gru.getH0(), {}, gru.getReverse(), gru.getReturnSequences());
  if (auto rnn = dyn_cast<dnn::RnnOp>(op))
    return recurrent(rnn.getActivation() == "relu" ? dnnref::Cell::RnnRelu
                                                   : dnnref::Cell::RnnTanh,
                     rnn.getInput(), rnn.getWIh(), rnn.getWHh(), rnn.getBIh(), rnn.getBHh(),
                     rnn.getH0(), {}, rnn.getReverse(), rnn.getReturnSequences());
  if (auto attn = dyn_cast<dnn::AttentionOp>(op)) {
    const Tensor &q = in(attn.getQuery());
    double scale = attn.getScaleAttr() ? attn.getScaleAttr().getValueAsDouble()
                                       : 1.0 / std::sqrt(double(q.shape.back()));
    return Results{dnnref::attention(q, in(attn.getKey()), in(attn.getValue()),
                                     attn.getCausal(), scale)};
  }
  if (auto mha = dyn_cast<dnn::MultiHeadAttentionOp>(op))
    return Results{dnnref::multiHeadAttention(
        in(mha.getQuery()), in(mha.getKey()), in(mha.getValue()), in(mha.getInProjWeight()),
        optional(mha.getInProjBias()), in(mha.getOutProjWeight()), optional(mha.getOutProjBias()),
        static_cast<int>(mha.getHeads()), mha.getCausal())};
  return std::nullopt;
}

std::optional<Results> Interpreter::run(Operation &op, std::string &error) {
  if (auto w = dyn_cast<dnn::WeightOp>(op)) {
    auto it = weights.find(w.getName().str());
    if (it == weights.end()) {
      error = "missing weight '" + w.getName().str() + "'";
      return std::nullopt;
    }
    return Results{it->second};
  }
  for (auto family : {&Interpreter::linear, &Interpreter::elementwise, &Interpreter::shapes,
                      &Interpreter::sequences})
    if (std::optional<Results> results = (this->*family)(op))
      return results;
  error = "the reference evaluator has no kernel for '" + op.getName().getStringRef().str() + "'";
  return std::nullopt;
}

} // namespace

bool dnnref::evaluate(ModuleOp module, const std::map<std::string, Tensor> &weights,
                      const std::vector<Tensor> &inputs, std::vector<Tensor> &outputs,
                      std::string &error) {
  auto funcs = module.getOps<FuncOp>();
  if (funcs.empty()) {
    error = "no model function";
    return false;
  }
  FuncOp func = *funcs.begin();
  if (inputs.size() != func.getNumArguments()) {
    error = "expected " + std::to_string(func.getNumArguments()) + " inputs";
    return false;
  }
  Interpreter interp(weights);
  for (BlockArgument arg : func.getArguments()) {
    if (!matches(inputs[arg.getArgNumber()], arg.getType())) {
      error = "input " + std::to_string(arg.getArgNumber()) + " has shape " +
              shapeText(inputs[arg.getArgNumber()].shape);
      return false;
    }
    interp.set(arg, inputs[arg.getArgNumber()]);
  }
  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<ReturnOp>(op)) {
      outputs.clear();
      for (Value v : ret.getOperands())
        outputs.push_back(interp.in(v));
      return true;
    }
    std::optional<Results> results = interp.run(op, error);
    if (!results)
      return false;
    for (auto [value, result] : llvm::zip(op.getResults(), *results)) {
      if (!matches(result, value.getType())) {
        error = "'" + op.getName().getStringRef().str() + "' produced shape " +
                shapeText(result.shape) + ", which does not match its type";
        return false;
      }
      interp.set(value, std::move(result));
    }
  }
  error = "model function has no return";
  return false;
}
