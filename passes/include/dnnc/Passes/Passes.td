//===- Passes.td - the passes of dnnc ---------------------*- tablegen -*-===//
//
// Every pass works on the model function in the dnn dialect; each has its
// own lit test file under tests/lit/passes showing the IR before and after.
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_PASSES
#define DNNC_PASSES

include "mlir/Pass/PassBase.td"

def DecomposeMultiHeadAttention : Pass<"dnn-decompose-mha", "::mlir::FuncOp"> {
  let summary = "Rewrites multi_head_attention into projections, attention and reshapes";
  let description = [{
    Code generation has kernels for dense, reshape, transpose and attention
    but not for the whole of nn.MultiheadAttention, so this lowering always
    runs. The q/k/v rows of `in_proj_weight` become three dense layers (one
    dense with the whole [3E, E] weight and a split when q, k and v are the
    same value: self-attention), heads become a dimension by reshape and
    transpose, one batched attention covers every head, and the output
    projection is a dense layer:

      %y = dnn.multi_head_attention %x, %x, %x, %w, %wo bias(%b, %bo) {heads = 2}

    becomes

      %p = dnn.dense %x, %w, %b            // [N, T, 3E]
      %q, %k, %v = dnn.split %p {axis = 2}
      %qh = dnn.transpose (dnn.reshape %q) {perm = [0, 2, 1, 3]}   // [N, h, T, E/h]
      ...
      %a = dnn.attention %qh, %kh, %vh {scale = 1/sqrt(E/h)}
      %y = dnn.dense (dnn.reshape (dnn.transpose %a)), %wo, %bo
  }];
  let constructor = "dnnc::passes::createDecomposeMultiHeadAttentionPass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
}

def FoldBatchNorm : Pass<"dnn-fold-batchnorm", "::mlir::FuncOp"> {
  let summary = "Folds an inference batchnorm into the conv or dense layer before it";
  let description = [{
    A batchnorm whose input is a dense, conv1d, conv2d, separable_conv2d or
    (ungrouped) conv_transpose2d result used only by it, with no activation
    or residual in between, becomes part of that layer: a `fold_batchnorm`
    op computes the scaled weight and the new bias (from weights only, so it
    runs once at load time) and the layer uses them:

      %c = dnn.conv2d %x, %w {...}
      %y = dnn.batchnorm %c, %g, %b, %m, %v

    becomes

      %w2, %b2 = dnn.fold_batchnorm %w, %g, %b, %m, %v {channel_axis = 0, epsilon = ...}
      %y = dnn.conv2d %x, %w2, %b2 {...}

    It refuses (with `remarks=true` it says why, at the batchnorm) when the
    layer's result has another user, when the layer applies an activation
    or adds a residual first, for a dense layer whose units are not the
    batchnorm's channels, and in a training function (marked dnn.training),
    where batchnorm uses the statistics of each batch.
  }];
  let constructor = "dnnc::passes::createFoldBatchNormPass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Say with a remark why a batchnorm is not folded">
  ];
}

def FuseEpilogue : Pass<"dnn-fuse-epilogue", "::mlir::FuncOp"> {
  let summary = "Fuses residual adds and activations into the conv or dense layer before them";
  let description = [{
    One kernel then does conv + bias + residual add + activation on values
    still in registers, instead of three kernels each reading and writing
    the whole tensor. An `add` of a conv2d or dense result (with no
    activation, read only by the add) and a same-shaped tensor becomes the
    layer's `residual` operand; an activation op (relu, relu6, leaky_relu,
    sigmoid, tanh, elu, softplus, mish, gelu, sign) of a layer with an
    epilogue (dense, conv1d, conv2d, conv_transpose2d, separable_conv2d)
    read only by it becomes the layer's `activation`. Residual adds are
    fused first, so a ResNet block's conv, add and relu end as one op:

      %c = dnn.conv2d %x, %w, %b {...}
      %s = dnn.add %c, %skip
      %y = dnn.relu %s

    becomes

      %y = dnn.conv2d %x, %w, %b residual(%skip) {activation = "relu", ...}

    With `remarks=true` it says why an add or activation next to such a
    layer is left alone (the layer's result has another user, the layer
    already has an activation or residual, the add broadcasts).
  }];
  let constructor = "dnnc::passes::createFuseEpiloguePass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Say with a remark why an add or activation is not fused">
  ];
}

def UnrollRecurrence : Pass<"dnn-unroll-recurrence", "::mlir::FuncOp"> {
  let summary = "Hoists the input projection of rnn/lstm/gru layers out of the time loop";
  let description = [{
    The input projection x_t W_ih^T + b_ih of every time step becomes one
    dense layer over [N, T, F] (one GEMM instead of a matrix-vector product
    per step); the `recurrence` op that replaces the layer keeps only
    h W_hh^T + b_hh and the gates in the loop. The forward and reverse
    layers of a bidirectional layer share one projection GEMM with their
    weights stacked (a load-time concat) and split the result. The time loop
    runs all steps straight-line for T <= 16, otherwise `unroll` steps per
    iteration: the `unroll-factor` option, or the largest of 8, 6, 5, 4, 3, 2
    that divides the T-1 steps after the first (else 4).

      %y, %h, %c = dnn.lstm %x, %wi, %wh bias(%bi, %bh) : ...

    becomes

      %p = dnn.dense %x, %wi, %bi           // [N, T, 4H]
      %y, %h, %c = dnn.recurrence %p, %wh bias(%bh) {cell = "lstm", unroll = ...}
  }];
  let constructor = "dnnc::passes::createUnrollRecurrencePass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
  let options = [
    Option<"unrollFactor", "unroll-factor", "int64_t", /*default=*/"0",
           "Time steps per loop iteration (0: chosen from the sequence length)">
  ];
}

def HoistWeightComputations : Pass<"dnn-hoist-weight-computations", "::mlir::FuncOp"> {
  let summary = "Marks weights-only subgraphs to be computed once at load time";
  let description = [{
    The constant folding of a compiler whose constants (the weights) arrive
    at run time: every op whose operands are weights or computed from
    weights only gets the unit attribute `dnn.load_time`, and code
    generation computes those ops once when the weights are loaded (the
    prepare program of model.so) instead of on every run. Such ops come from
    the other passes: fold_batchnorm, the stacked weights of a bidirectional
    layer's projection, the q/k/v split of in_proj_weight.

      %w2, %b2 = dnn.fold_batchnorm %w, %g, %b, %m, %v {...}

    becomes

      %w2, %b2 = dnn.fold_batchnorm %w, %g, %b, %m, %v {dnn.load_time, ...}
  }];
  let constructor = "dnnc::passes::createHoistWeightComputationsPass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Say with a remark how many ops run at load time">
  ];
}

def SplitSeparableConv : Pass<"dnn-split-separable", "::mlir::FuncOp"> {
  let summary = "Runs each separable_conv2d fused or as depthwise + pointwise convs, by cost";
  let description = [{
    The fused kernel computes the depthwise result per pixel tile inside the
    pointwise reduction, so the depthwise map never goes through memory;
    split, a depthwise conv2d (groups = channels) and a 1x1 conv2d each get
    their own tuned schedule. Measured, the fused kernel wins on wide maps
    (2x at 28x28) and loses up to 30% below 14x14 (its depthwise rows fill
    few vector lanes), so the cost rule keeps the op fused when its output
    rows are at least `min-fused-width` (default 16) wide and splits it
    otherwise:

      %y = dnn.separable_conv2d %x, %dw, %pw, %b {...}    // [N, O, 7, 7]

    becomes

      %d = dnn.conv2d %x, %dw {groups = C, strides = ..., padding = ...}
      %y = dnn.conv2d %d, %pw, %b {activation = ..., ...}  // 1x1
  }];
  let constructor = "dnnc::passes::createSplitSeparableConvPass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
  let options = [
    Option<"minFusedWidth", "min-fused-width", "int64_t", /*default=*/"16",
           "Keep the fused kernel when the output rows are at least this wide">,
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Say with a remark which form each separable conv takes">
  ];
}

def FuseElementwise : Pass<"dnn-fuse-elementwise", "::mlir::FuncOp"> {
  let summary = "Fuses chains of elementwise ops into one kernel";
  let description = [{
    Elementwise ops (add, sub, mul and the activations) are memory bound: a
    separate kernel each reads and writes a whole tensor for a few flops. A
    chain whose intermediate results have no reader outside the chain becomes
    one `fused_elementwise` op, whose body holds the ops and which code
    generation computes in one pass over the output:

      %s = dnn.add %a, %b
      %y = dnn.tanh %s

    becomes

      %y = dnn.fused_elementwise %a, %b : (...) -> ... {
      ^bb0(%x: ..., %z: ...):
        %s = dnn.add %x, %z
        %t = dnn.tanh %s
        dnn.yield %t
      }

    Run after dnn-fuse-epilogue, which gives activations and residual adds
    to the conv and dense layers before them first.
  }];
  let constructor = "dnnc::passes::createFuseElementwisePass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
}

def PlanMemory : Pass<"dnn-plan-memory", "::mlir::FuncOp"> {
  let summary = "Places intermediate tensors in one workspace by liveness and reports the peak";
  let description = [{
    Every intermediate tensor (not an input, a weight, a load-time value, a
    view or a returned value, which lives in the caller's output buffer)
    lives from the op that writes it to its last reader; tensors are placed
    first-fit in the order they are written, so tensors whose lives do not
    overlap share bytes (offsets are per batch item, 64-byte aligned, and
    scale with the batch at run time). Each op gets `dnn.workspace_offsets`
    (one per result, -1 outside the workspace) and the function
    `dnn.peak_activation_bytes`; with `remarks=true` a remark gives the peak
    against the sum without reuse. Code generation places its kernel
    buffers (these tensors and the scratch of some kernels) with the same
    planner.

      %a = dnn.relu %x                      // [N, 256]: offset 0
      %b = dnn.relu %a                      // offset 1024 (%a is read)
      %c = dnn.relu %b                      // offset 0 again (%a is dead)
  }];
  let constructor = "dnnc::passes::createPlanMemoryPass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Report the peak activation memory in a remark">
  ];
}

def BuildTraining : Pass<"dnn-build-training", "::mlir::ModuleOp"> {
  let summary = "Adds the training step of a model with a train block: forward, loss, backward, update";
  let description = [{
    For each model function with a `dnn.train` attribute (the train block),
    adds `@<model>_train(inputs..., targets..., hyper) -> (loss, prediction)`
    marked `dnn.training`; the model function stays the inference graph.
    The training function is the model's forward in training form (fused
    activations split off; conv1d, 1-D pooling, separable convolutions,
    attention, multi-head attention and recurrent layers rewritten into the
    ops they are made of; dropout with a seeded mask; batchnorm with batch
    statistics and a running-statistics update; recurrences that keep their
    gates), then `dnn.loss` on the prediction (a final softmax or sigmoid
    is folded into cross entropy / binary cross entropy, which take
    logits), then the backward built by reverse-mode differentiation from
    each op's gradient rule (DifferentiableOp, ir/lib/DnnGradients*.cpp),
    then one `dnn.optimizer_update` per weight the loss depends on, with its
    optimizer state tensors (`dnn.state`).

      func @m(%x) -> %p { %h = dnn.dense %x, %w {activation = "relu"} ... }

    gains

      func @m_train(%x, %y, %hyper) -> (%loss, %p) attributes {dnn.training} {
        %z = dnn.dense %x, %w
        %h = dnn.relu %z
        ...
        %loss = dnn.loss %logits, %y {kind = "cross_entropy"}
        %dlogits = dnn.loss_grad %logits, %y {kind = "cross_entropy"}
        ...
        %dz = dnn.activation_grad %dh, %z, %h {activation = "relu"}
        %dw = dnn.dense_grad_weight %dz, %x
        dnn.optimizer_update %w, %dw, %hyper states(%m, %v) {settings = {kind = "adam", ...}}
        return %loss, %p
      }
  }];
  let constructor = "dnnc::passes::createBuildTrainingPass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
}

def DeadCodeElimination : Pass<"dnn-dce", "::mlir::FuncOp"> {
  let summary = "Removes unused ops and unused sequence outputs of recurrent layers";
  let description = [{
    A layer whose results nobody reads is removed (its weights too, when
    nothing else reads them), last to first so that whole dead branches go;
    ops that write memory (optimizer and running-statistics updates) stay.
    A recurrent layer (rnn, lstm, gru, recurrence) that returns its whole
    sequence although only its final states are read stops doing so: its
    first result becomes the final state [N, H] instead of [N, T, H].

      %y, %h = dnn.gru %x, %wi, %wh {return_sequences = true}   // %y unused

    becomes

      %y, %h = dnn.gru %x, %wi, %wh : ... -> (tensor<?xHxf32>, tensor<?xHxf32>)
  }];
  let constructor = "dnnc::passes::createDeadCodeEliminationPass()";
  let dependentDialects = ["dnnc::dnn::DnnDialect"];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Say with a remark what was removed">
  ];
}

#endif // DNNC_PASSES
