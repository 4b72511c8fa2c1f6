//===- LowerRecurrentTrain.cpp - recurrences in training to kernel calls -===//
//
// recurrence_train runs like an inference recurrence (a host loop of step
// kernels over batch-first slices) and also writes each step's gates into
// [N, T, S*H]. recurrence_grad walks the steps in the opposite order with
// one backward-step kernel per step: the state gradient passed from step to
// step lives in two dense [N, H] buffers used in turn, so the loop body
// holds two steps (one writing each buffer).
//
//===----------------------------------------------------------------------===//
#include "Lowering.h"
#include "kernels/RecurrentTrainKernels.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;
namespace k = dnnc::kernels;

namespace {

/// Column block b (of width `width`) of a 2-D row view.
TensorRef columnBlock(const TensorRef &rows, int64_t b, int64_t width) {
  TensorRef block = rows;
  block.strides = rows.effectiveStrides();
  block.shape = {rows.shape[0], width};
  block.byteOffset += b * width * kFloat;
  return block;
}

/// A dense [N, H] buffer of zeros, written once before the loop.
TensorRef zeroState(LoweringContext &ctx, std::vector<int64_t> shape) {
  TensorRef z = ctx.scratch(shape);
  ctx.call("zeros", [=](const Halide::Target &t) { return k::buildFill(shape, 0.0f, t); }, {},
           {z});
  return z;
}

void copyTo(LoweringContext &ctx, llvm::StringRef role, const TensorRef &from,
            const TensorRef &to) {
  std::vector<int64_t> shape = to.shape, src = from.effectiveStrides(),
                       dst = to.effectiveStrides();
  ctx.call(role,
           [=](const Halide::Target &t) { return k::buildStridedCopy(shape, src, dst, t); },
           {from}, {to});
}

LogicalResult lowerForward(dnn::RecurrenceTrainOp op, LoweringContext &ctx) {
  k::Cell cell = cellOf(op.getCell());
  bool lstm = cell == k::Cell::Lstm, bias = (bool)op.getBHh();
  TensorRef xproj = ctx.operand(0);
  int64_t batch = xproj.shape[0], T = xproj.shape[1];
  int64_t H = op.getWHh().getType().cast<RankedTensorType>().getShape()[1];
  int64_t S = k::savedGateCount(cell);
  std::vector<int64_t> state{batch, H};
  TensorRef hs = ctx.result(0), gates = ctx.result(2);
  TensorRef cs = lstm ? ctx.result(4) : TensorRef();
  // Operands: xproj, w_hh, then the optional b_hh, h0, c0 in order.
  unsigned next = 2;
  TensorRef wHh = ctx.operand(1);
  TensorRef bHh = bias ? ctx.operand(next++) : TensorRef();
  TensorRef h0 = op.getH0() ? ctx.operand(next++) : zeroState(ctx, state);
  TensorRef c0 = lstm ? (op.getC0() ? ctx.operand(next++) : zeroState(ctx, state)) : TensorRef();

  // W_hh (and b_hh) packed for the step kernel once per training step,
  // before the loop (they change with every update).
  std::vector<TensorRef> packArgs{wHh};
  if (bias)
    packArgs.push_back(bHh);
  TensorRef packed = ctx.scratch(k::packedRecurrentWeightShape(cell, H));
  ctx.call(
      "pack_w_hh",
      [=](const Halide::Target &tg) { return k::buildPackRecurrentWeights(cell, H, bias, tg); },
      packArgs, {packed});

  int64_t first = op.getReverse() ? T - 1 : 0, dir = op.getReverse() ? -1 : 1;
  auto step = [&](int64_t t, int64_t move, TensorRef hPrev, TensorRef cPrev, const char *role) {
    TensorRef x = stepSlice(xproj, t, move), hOut = stepSlice(hs, t, move);
    TensorRef cOut = lstm ? stepSlice(cs, t, move) : TensorRef();
    TensorRef g = stepSlice(gates, t, move);
    k::TrainStepLayout layout{{rowStride(x), rowStride(hPrev), lstm ? rowStride(cPrev) : 1,
                               rowStride(hOut), lstm ? rowStride(cOut) : 1},
                              rowStride(g)};
    std::vector<TensorRef> args{x, hPrev};
    if (lstm)
      args.push_back(cPrev);
    args.push_back(packed);
    std::vector<TensorRef> outs{hOut};
    if (lstm)
      outs.push_back(cOut);
    for (int64_t b = 0; b < S; ++b)
      outs.push_back(columnBlock(g, b, H));
    ctx.call(role,
             [=](const Halide::Target &tg) {
               return k::buildRecurrentTrainStep(cell, batch, H, layout, tg);
             },
             args, outs);
  };
  step(first, 0, h0, c0, "first_step");
  if (T > 1) {
    ctx.beginLoop(T - 1, 1);
    step(first + dir, dir, stepSlice(hs, first, dir),
         lstm ? stepSlice(cs, first, dir) : TensorRef(), "step");
    ctx.endLoop();
  }
  int64_t last = op.getReverse() ? 0 : T - 1;
  copyTo(ctx, "final_state", stepSlice(hs, last, 0), ctx.result(1));
  if (lstm)
    copyTo(ctx, "final_cell", stepSlice(cs, last, 0), ctx.result(3));
  return success();
}

LogicalResult lowerBackward(dnn::RecurrenceGradOp op, LoweringContext &ctx) {
  k::Cell cell = cellOf(op.getCell());
  bool lstm = cell == k::Cell::Lstm, gru = cell == k::Cell::Gru;
  // Operands in order: the present ones of dseq, dh_n, dc_n, then seq,
  // gates, (cells), w_hh, (h0), (c0).
  unsigned next = 0;
  auto optional = [&](Value v) { return v ? ctx.operand(next++) : TensorRef(); };
  TensorRef dSeq = optional(op.getGradSequence()), dHN = optional(op.getGradHN()),
            dCN = optional(op.getGradCN());
  TensorRef seq = ctx.operand(next++), gates = ctx.operand(next++);
  TensorRef cells = optional(op.getCellSequence());
  TensorRef wHh = ctx.operand(next++);
  TensorRef h0 = optional(op.getH0()), c0 = optional(op.getC0());
  int64_t batch = seq.shape[0], T = seq.shape[1], H = seq.shape[2];
  int64_t G = k::gateCount(cell);
  std::vector<int64_t> state{batch, H};
  // One buffer of zeros, filled before any loop, for every absent input.
  bool needZeros = !h0.shape.size() || (lstm && !c0.shape.size()) || !dSeq.shape.size();
  TensorRef zeros = needZeros ? zeroState(ctx, state) : TensorRef();
  if (!h0.shape.size())
    h0 = zeros;
  if (lstm && !c0.shape.size())
    c0 = zeros;
  TensorRef dxproj = ctx.result(0), dh0 = ctx.result(1);
  TensorRef dHidden = gru ? ctx.result(2) : TensorRef();
  TensorRef dc0 = lstm ? ctx.result(2) : TensorRef();

  // The state gradients passed between steps, in turn.
  TensorRef dh[2] = {ctx.scratch(state), ctx.scratch(state)};
  TensorRef dc[2] = {lstm ? ctx.scratch(state) : TensorRef(),
                     lstm ? ctx.scratch(state) : TensorRef()};
  if (dHN.shape.size())
    copyTo(ctx, "dh_n", dHN, dh[0]);
  else
    ctx.call("zeros_dh", [=](const Halide::Target &t) { return k::buildFill(state, 0.0f, t); },
             {}, {dh[0]});
  if (lstm) {
    if (dCN.shape.size())
      copyTo(ctx, "dc_n", dCN, dc[0]);
    else
      ctx.call("zeros_dc",
               [=](const Halide::Target &t) { return k::buildFill(state, 0.0f, t); }, {},
               {dc[0]});
  }

  // Processing order k = 0..T-1 walks the forward's steps backwards.
  int64_t last = op.getReverse() ? 0 : T - 1, dir = op.getReverse() ? -1 : 1;
  int current = 0; // which dh/dc buffer holds the incoming gradient
  // One backward step for forward step t = last - k*dir, moving `move`
  // steps per loop iteration; `firstStep`: its previous state is h0/c0.
  auto step = [&](int64_t t, int64_t move, bool firstStep, const char *role) {
    TensorRef dhs = dSeq.shape.size() ? stepSlice(dSeq, t, move) : zeros;
    TensorRef g = stepSlice(gates, t, move);
    TensorRef cT = lstm ? stepSlice(cells, t, move) : TensorRef();
    TensorRef hPrev = firstStep ? h0 : stepSlice(seq, t - dir, move);
    TensorRef cPrev = lstm ? (firstStep ? c0 : stepSlice(cells, t - dir, move)) : TensorRef();
    TensorRef dg = stepSlice(dxproj, t, move);
    k::BackwardStepLayout layout{rowStride(dhs),
                                 rowStride(g),
                                 lstm ? rowStride(cT) : H,
                                 gru ? rowStride(hPrev) : H,
                                 lstm ? rowStride(cPrev) : H,
                                 rowStride(dg)};
    std::vector<TensorRef> args{dhs, dh[current]};
    if (lstm)
      args.push_back(dc[current]);
    args.push_back(g);
    if (lstm)
      args.push_back(cT);
    if (gru)
      args.push_back(hPrev);
    if (lstm)
      args.push_back(cPrev);
    args.push_back(wHh);
    std::vector<TensorRef> outs;
    for (int64_t b = 0; b < G; ++b)
      outs.push_back(columnBlock(dg, b, H));
    if (gru) {
      TensorRef dgh = stepSlice(dHidden, t, move);
      for (int64_t b = 0; b < 3; ++b)
        outs.push_back(columnBlock(dgh, b, H));
    }
    if (lstm)
      outs.push_back(dc[1 - current]);
    outs.push_back(dh[1 - current]);
    current = 1 - current;
    ctx.call(role,
             [=](const Halide::Target &tg) {
               return k::buildRecurrentBackwardStep(cell, batch, H, layout, tg);
             },
             args, outs);
  };

  // k = 0, then k = 1..T-2 two at a time, then the odd one, then k = T-1
  // (whose previous state is the initial one).
  if (T == 1) {
    step(last, 0, /*firstStep=*/true, "only_step");
  } else {
    step(last, 0, false, "last_step");
    int64_t middle = T - 2, pairs = middle / 2;
    if (pairs > 0) {
      ctx.beginLoop(pairs, 1);
      step(last - dir, -2 * dir, false, "step_a");
      step(last - 2 * dir, -2 * dir, false, "step_b");
      ctx.endLoop();
    }
    if (middle % 2)
      step(last - middle * dir, 0, false, "odd_step");
    step(last - (T - 1) * dir, 0, /*firstStep=*/true, "first_step");
  }
  copyTo(ctx, "dh0", dh[current], dh0);
  if (lstm)
    copyTo(ctx, "dc0", dc[current], dc0);
  return success();
}

/// The state each step started from: the initial state (or zeros) for the
/// first step processed, the sequence shifted by one step for the rest.
LogicalResult lowerPreviousStates(dnn::PreviousStatesOp op, LoweringContext &ctx) {
  TensorRef seq = ctx.operand(0), out = ctx.result(0);
  int64_t batch = seq.shape[0], T = seq.shape[1], H = seq.shape[2];
  bool reverse = op.getReverse();
  TensorRef initial = op.getInitial() ? ctx.operand(1) : zeroState(ctx, {batch, H});
  int64_t firstStep = reverse ? T - 1 : 0;
  copyTo(ctx, "initial", initial, stepSlice(out, firstStep, 0));
  if (T == 1)
    return success();
  // out[:, t] = seq[:, t - 1] (forward) or seq[:, t + 1] (reverse).
  TensorRef from = seq, to = out;
  from.strides = to.strides = {T * H, H, 1};
  from.shape = to.shape = {batch, T - 1, H};
  (reverse ? from : to).byteOffset += H * kFloat;
  copyTo(ctx, "shifted", from, to);
  return success();
}

} // namespace

LogicalResult dnnc::codegen::lowerRecurrentTrainOp(Operation *op, LoweringContext &ctx,
                                                   bool &handled) {
  handled = true;
  if (auto forward = dyn_cast<dnn::RecurrenceTrainOp>(op))
    return lowerForward(forward, ctx);
  if (auto backward = dyn_cast<dnn::RecurrenceGradOp>(op))
    return lowerBackward(backward, ctx);
  if (auto previous = dyn_cast<dnn::PreviousStatesOp>(op))
    return lowerPreviousStates(previous, ctx);
  handled = false;
  return success();
}
