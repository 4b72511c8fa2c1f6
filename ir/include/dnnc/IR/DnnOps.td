//===- DnnOps.td - ops of the dnn dialect ------------------*- tablegen -*-===//
//
// Shape rules live in each op's `inferReturnTypes` (DnnOps.cpp): the frontend
// builds ops through them, so a shape error is reported once, at the layer.
//
//===----------------------------------------------------------------------===//
#ifndef DNN_OPS
#define DNN_OPS

include "dnnc/IR/DnnDialect.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "dnnc/IR/DnnInterfaces.td"

// Ops with a gradient rule (ir/lib/DnnGradients*.cpp).
def Dnn_Differentiable : DeclareOpInterfaceMethods<Dnn_DifferentiableOpInterface>;

// Elementwise activation fused into a producing op's epilogue. One of:
// none, relu, sigmoid, tanh, leaky_relu, relu6, elu, softplus, mish, gelu,
// gelu_tanh, sign (checked by the verifier). `alpha` is the slope of
// leaky_relu and the alpha of elu.
def Dnn_ActivationAttr : DefaultValuedAttr<StrAttr, "\"none\"">;
def Dnn_AlphaAttr : DefaultValuedAttr<F32Attr, "0.01">;

class Dnn_ShapedOp<string mnemonic, list<Trait> traits = []>
    : Dnn_Op<mnemonic, !listconcat(traits, [NoSideEffect,
        DeclareOpInterfaceMethods<InferTypeOpInterface>])> {
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_WeightOp : Dnn_Op<"weight", [NoSideEffect]> {
  let summary = "a named model parameter, loaded from the weights file";
  let description = [{
    `%w = dnn.weight "conv1.weight" : tensor<32x1x3x3xf32>` is the tensor
    stored under that name in the safetensors file given at run time.
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_DenseOp : Dnn_ShapedOp<"dense", [AttrSizedOperandSegments, Dnn_Differentiable]> {
  let summary = "fully connected layer: y = act(x W^T + b + residual)";
  let description = [{
    `x` is [N, ..., in] (every row of the last dim, e.g. every time step of
    [N, T, in]), `weight` is [units, in] (PyTorch Linear), `bias` [units];
    the result is [N, ..., units]. `residual`, shaped like the result, is
    added before the activation (a residual add fused by dnn-fuse-epilogue).
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$weight,
                   Optional<Dnn_Tensor>:$bias, Optional<Dnn_Tensor>:$residual,
                   Dnn_ActivationAttr:$activation, Dnn_AlphaAttr:$alpha);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? (`residual` `(` $residual^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Dnn_Conv2dOp : Dnn_ShapedOp<"conv2d", [AttrSizedOperandSegments, Dnn_Differentiable]> {
  let summary = "2-D convolution (NCHW), with groups and a fused epilogue";
  let description = [{
    `weight` is [out, in/groups, kh, kw] (PyTorch Conv2d), `bias` [out].
    `padding` is [top, left, bottom, right]; `strides`, `dilations` are [h, w].
    out = floor((in + pad_before + pad_after - dilation*(k-1) - 1) / stride) + 1.
    `residual`, shaped like the result, is added before the activation (a
    residual block's add fused by dnn-fuse-epilogue).
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$weight,
                   Optional<Dnn_Tensor>:$bias, Optional<Dnn_Tensor>:$residual,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding,
                   I64ArrayAttr:$dilations, I64Attr:$groups,
                   Dnn_ActivationAttr:$activation, Dnn_AlphaAttr:$alpha);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? (`residual` `(` $residual^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

class Dnn_Pool2dOp<string mnemonic, list<Trait> traits = []> : Dnn_ShapedOp<mnemonic, traits> {
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_MaxPool2dOp : Dnn_Pool2dOp<"maxpool2d", [Dnn_Differentiable]> {
  let summary = "2-D max pooling; padded positions never win";
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$kernel,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding);
}

def Dnn_AvgPool2dOp : Dnn_Pool2dOp<"avgpool2d", [Dnn_Differentiable]> {
  let summary = "2-D average pooling";
  let description = [{
    With `count_include_pad` the divisor is the window size (PyTorch's
    default), otherwise the number of in-bounds elements (Keras).
  }];
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$kernel,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
}

def Dnn_GlobalAvgPoolOp : Dnn_Pool2dOp<"global_avgpool", [Dnn_Differentiable]> {
  let summary = "mean over every dim after the channel: [N, C, ...] -> [N, C]";
  let arguments = (ins Dnn_Tensor:$input);
}

def Dnn_FlattenOp : Dnn_Pool2dOp<"flatten", [Dnn_Differentiable]> {
  let summary = "[N, d1, ..., dk] -> [N, d1*...*dk]; a view, no data moves";
  let arguments = (ins Dnn_Tensor:$input);
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Dnn_BatchNormOp : Dnn_ShapedOp<"batchnorm"> {
  let summary = "batch normalization, inference form, over channel axis 1";
  let description = [{
    y = gamma * (x - running_mean) / sqrt(running_var + epsilon) + beta,
    parameters named as PyTorch BatchNorm: weight, bias, running_mean, running_var.
    `momentum` is the running statistics' update rate in training.
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$gamma, Dnn_Tensor:$beta,
                   Dnn_Tensor:$mean, Dnn_Tensor:$variance,
                   DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon,
                   DefaultValuedAttr<F32Attr, "0.1">:$momentum);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_FoldBatchNormOp : Dnn_Op<"fold_batchnorm",
    [NoSideEffect, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "the weight and bias of a layer with a following batchnorm folded in";
  let description = [{
    Made by dnn-fold-batchnorm. With s = gamma / sqrt(running_var + epsilon)
    per output channel (dimension `channel_axis` of `weight`):
    weight' = weight * s, bias' = (bias - running_mean) * s + beta (bias 0
    when absent). Its operands are weights, so it runs once at load time.
  }];
  let arguments = (ins Dnn_Tensor:$weight, Optional<Dnn_Tensor>:$bias, Dnn_Tensor:$gamma,
                   Dnn_Tensor:$beta, Dnn_Tensor:$mean, Dnn_Tensor:$variance,
                   F32Attr:$epsilon, I64Attr:$channel_axis);
  let results = (outs Dnn_Tensor:$folded_weight, Dnn_Tensor:$folded_bias);
  let assemblyFormat = [{
    $weight (`bias` `(` $bias^ `)`)? `,` $gamma `,` $beta `,` $mean `,` $variance attr-dict `:`
    functional-type(operands, results)
  }];
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_DropoutOp : Dnn_ShapedOp<"dropout"> {
  let summary = "dropout; the identity at inference (folded away)";
  let arguments = (ins Dnn_Tensor:$input, F32Attr:$rate);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

class Dnn_BinaryOp<string mnemonic, string what> : Dnn_ShapedOp<mnemonic, [Dnn_Differentiable]> {
  let description = [{
    Operands broadcast as in NumPy: shapes are aligned on the right and a
    dimension of 1 (or a missing one) stretches to the other's extent.
  }];
  let summary = what;
  let arguments = (ins Dnn_Tensor:$lhs, Dnn_Tensor:$rhs);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Dnn_AddOp : Dnn_BinaryOp<"add", "elementwise sum (residual add), broadcasting">;
def Dnn_SubOp : Dnn_BinaryOp<"sub", "elementwise difference, broadcasting">;
def Dnn_MulOp : Dnn_BinaryOp<"mul", "elementwise product, broadcasting">;

class Dnn_UnaryOp<string mnemonic, string what> : Dnn_ShapedOp<mnemonic, [Dnn_Differentiable]> {
  let summary = what;
  let arguments = (ins Dnn_Tensor:$input);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_ReluOp : Dnn_UnaryOp<"relu", "max(x, 0)">;
def Dnn_SigmoidOp : Dnn_UnaryOp<"sigmoid", "1 / (1 + exp(-x))">;
def Dnn_TanhOp : Dnn_UnaryOp<"tanh", "tanh(x)">;
def Dnn_IdentityOp : Dnn_UnaryOp<"identity", "x (folded away)"> {
  let hasFolder = 1;
}
def Dnn_LeakyReluOp : Dnn_UnaryOp<"leaky_relu", "x if x > 0 else alpha * x"> {
  let arguments = (ins Dnn_Tensor:$input, Dnn_AlphaAttr:$alpha);
}
def Dnn_SoftmaxOp : Dnn_UnaryOp<"softmax", "exp(x) / sum(exp(x)) along `axis`"> {
  let arguments = (ins Dnn_Tensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
}
def Dnn_LogSoftmaxOp : Dnn_UnaryOp<"log_softmax", "x - log(sum(exp(x))) along `axis`, computed stably"> {
  let arguments = (ins Dnn_Tensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
}
def Dnn_SignOp : Dnn_UnaryOp<"sign", "-1, 0 or 1">;
def Dnn_Relu6Op : Dnn_UnaryOp<"relu6", "min(max(x, 0), 6)">;
def Dnn_SoftplusOp : Dnn_UnaryOp<"softplus", "log(1 + exp(x)), computed stably">;
def Dnn_MishOp : Dnn_UnaryOp<"mish", "x * tanh(softplus(x))">;
def Dnn_EluOp : Dnn_UnaryOp<"elu", "x if x > 0 else alpha * (exp(x) - 1)"> {
  let arguments = (ins Dnn_Tensor:$input, DefaultValuedAttr<F32Attr, "1.0">:$alpha);
}
def Dnn_GeluOp : Dnn_UnaryOp<"gelu", "x * Phi(x); `approximate` = \"tanh\" uses the tanh formula"> {
  let arguments = (ins Dnn_Tensor:$input,
                   DefaultValuedAttr<StrAttr, "\"none\"">:$approximate);
}

def Dnn_GluOp : Dnn_ShapedOp<"glu", [Dnn_Differentiable]> {
  let summary = "gated linear unit: halves a, b of `axis`; a * sigmoid(b)";
  let arguments = (ins Dnn_Tensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_LayerNormOp : Dnn_ShapedOp<"layernorm", [Dnn_Differentiable]> {
  let summary = "layer normalization over the last `normalized_rank` dimensions";
  let description = [{
    As PyTorch LayerNorm (biased variance). `affine` holds nothing or the
    weight and bias, each shaped like the normalized dimensions.
  }];
  let arguments = (ins Dnn_Tensor:$input, Variadic<Dnn_Tensor>:$affine,
                   DefaultValuedAttr<I64Attr, "1">:$normalized_rank,
                   DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input (`,` $affine^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_GlobalMaxPoolOp : Dnn_Pool2dOp<"global_maxpool", [Dnn_Differentiable]> {
  let summary = "max over every dim after the channel: [N, C, ...] -> [N, C]";
  let arguments = (ins Dnn_Tensor:$input);
}

def Dnn_TransposeOp : Dnn_ShapedOp<"transpose", [Dnn_Differentiable]> {
  let summary = "permutes dimensions: out.shape[i] = in.shape[perm[i]]; a dynamic batch stays dim 0";
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$perm);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasCanonicalizer = 1;
}

def Dnn_ConcatOp : Dnn_ShapedOp<"concat", [Dnn_Differentiable]> {
  let summary = "joins tensors along `axis` (not the batch)";
  let arguments = (ins Variadic<Dnn_Tensor>:$inputs, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
}

def Dnn_ReshapeOp : Dnn_Op<"reshape", [NoSideEffect, Dnn_Differentiable]> {
  let summary = "the same elements in another shape (a view, no data moves)";
  let description = [{
    The result type is the new shape; the batch dimension stays dimension 0
    and each batch item keeps its number of elements.
  }];
  let arguments = (ins Dnn_Tensor:$input);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let verifier = [{ return verifyOp(*this); }];
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Convolutions beyond conv2d
//===----------------------------------------------------------------------===//

def Dnn_Conv1dOp : Dnn_ShapedOp<"conv1d"> {
  let summary = "1-D convolution over [N, C, L], with groups and a fused activation";
  let description = [{
    `weight` is [out, in/groups, k] (PyTorch Conv1d), `bias` [out];
    `padding` is [before, after]; `strides`, `dilations` have one value.
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$weight,
                   Optional<Dnn_Tensor>:$bias,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding,
                   I64ArrayAttr:$dilations, I64Attr:$groups,
                   Dnn_ActivationAttr:$activation, Dnn_AlphaAttr:$alpha);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_ConvTranspose2dOp : Dnn_ShapedOp<"conv_transpose2d", [Dnn_Differentiable]> {
  let summary = "2-D transposed convolution (NCHW), as PyTorch ConvTranspose2d";
  let description = [{
    `weight` is [in, out/groups, kh, kw], `bias` [out]. `padding` is
    [top, left, bottom, right] removed from the full output, `output_padding`
    [h, w] added at the bottom/right:
    out = (in - 1) * stride - pad_before - pad_after + dilation * (k - 1) + output_padding + 1.
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$weight,
                   Optional<Dnn_Tensor>:$bias,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding,
                   I64ArrayAttr:$output_padding, I64ArrayAttr:$dilations, I64Attr:$groups,
                   Dnn_ActivationAttr:$activation, Dnn_AlphaAttr:$alpha);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_SeparableConv2dOp : Dnn_ShapedOp<"separable_conv2d"> {
  let summary = "depthwise kxk convolution then pointwise 1x1 (Keras SeparableConv2D)";
  let description = [{
    `depthwise` is [C * M, 1, kh, kw] (channel multiplier M), `pointwise` is
    [out, C * M, 1, 1], `bias` [out] is added after the pointwise step, then
    the activation. Strides, padding and dilations apply to the depthwise step.
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$depthwise, Dnn_Tensor:$pointwise,
                   Optional<Dnn_Tensor>:$bias,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding, I64ArrayAttr:$dilations,
                   Dnn_ActivationAttr:$activation, Dnn_AlphaAttr:$alpha);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $depthwise `,` $pointwise (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_Upsample2dOp : Dnn_ShapedOp<"upsample2d", [Dnn_Differentiable]> {
  let summary = "integer upsampling of [N, C, H, W], nearest or bilinear";
  let description = [{
    As PyTorch nn.Upsample(scale_factor, mode, align_corners=False):
    [N, C, H, W] -> [N, C, H * scale_h, W * scale_w].
  }];
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$scale,
                   DefaultValuedAttr<StrAttr, "\"nearest\"">:$mode);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// 1-D pooling, padding
//===----------------------------------------------------------------------===//

class Dnn_Pool1dOp<string mnemonic> : Dnn_Pool2dOp<mnemonic> {
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$kernel,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
}

def Dnn_MaxPool1dOp : Dnn_Pool1dOp<"maxpool1d"> {
  let summary = "1-D max pooling over [N, C, L]; padded positions never win";
}

def Dnn_AvgPool1dOp : Dnn_Pool1dOp<"avgpool1d"> {
  let summary = "1-D average pooling over [N, C, L]";
}

def Dnn_PadOp : Dnn_ShapedOp<"pad", [Dnn_Differentiable]> {
  let summary = "constant padding of the dimensions after the channel";
  let description = [{
    `padding` holds [before, after] pairs for the trailing dims, outermost
    first: [top, bottom, left, right] for [N, C, H, W]; [left, right] for
    [N, C, L].
  }];
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$padding,
                   DefaultValuedAttr<F32Attr, "0.0">:$value);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Tensor ops
//===----------------------------------------------------------------------===//

def Dnn_SplitOp : Dnn_Op<"split", [NoSideEffect, Dnn_Differentiable]> {
  let summary = "splits a tensor along `axis` (not a dynamic batch) into parts of `sizes`";
  let arguments = (ins Dnn_Tensor:$input, I64Attr:$axis, I64ArrayAttr:$sizes);
  let results = (outs Variadic<Dnn_Tensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($results)";
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_MatmulOp : Dnn_ShapedOp<"matmul", [Dnn_Differentiable]> {
  let summary = "batched matrix product [N, ..., M, K] x [N, ..., K, P] -> [N, ..., M, P]";
  let description = [{
    Leading dims must be equal. With `transpose_b` the right operand is
    [N, ..., P, K].
  }];
  let arguments = (ins Dnn_Tensor:$lhs, Dnn_Tensor:$rhs,
                   DefaultValuedAttr<BoolAttr, "false">:$transpose_b);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Dnn_EmbeddingOp : Dnn_ShapedOp<"embedding", [Dnn_Differentiable]> {
  let summary = "rows of a table picked by indices: [N, ...] x [V, E] -> [N, ..., E]";
  let description = [{
    `indices` holds integer values in [0, V) stored as f32; any other value
    makes the run fail with an "index out of range" error.
  }];
  let arguments = (ins Dnn_Tensor:$indices, Dnn_Tensor:$weight);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$indices `,` $weight attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Recurrent layers: one layer, one direction (stacks and bidirectional
// layers are built from several).
//===----------------------------------------------------------------------===//

class Dnn_RecurrentOp<string mnemonic, string what, dag cellStates, dag stateResults>
    : Dnn_Op<mnemonic, [NoSideEffect, AttrSizedOperandSegments,
                        DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = what;
  let description = [{
    `input` is [N, T, F] (batch first). Parameters as PyTorch's, for one
    layer and direction: `w_ih` [G*H, F], `w_hh` [G*H, H], `b_ih` and `b_hh`
    [G*H] (both or neither), gates in PyTorch's order. Initial states are
    [N, H] (zeros when absent). With `reverse` the steps run from T-1 down to
    0. `result` is [N, T, H] with `return_sequences` (the state after each
    step), else the final state [N, H]; the final states are also results.
  }];
  let arguments = !con((ins Dnn_Tensor:$input, Dnn_Tensor:$w_ih, Dnn_Tensor:$w_hh,
                            Optional<Dnn_Tensor>:$b_ih, Optional<Dnn_Tensor>:$b_hh,
                            Optional<Dnn_Tensor>:$h0), cellStates,
                       (ins DefaultValuedAttr<BoolAttr, "false">:$reverse,
                            DefaultValuedAttr<BoolAttr, "false">:$return_sequences));
  let results = !con((outs Dnn_Tensor:$result, Dnn_Tensor:$h_n), stateResults);
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_LstmOp : Dnn_RecurrentOp<"lstm", "LSTM layer (gates i, f, g, o)",
                                 (ins Optional<Dnn_Tensor>:$c0),
                                 (outs Dnn_Tensor:$c_n)> {
  let assemblyFormat = [{
    $input `,` $w_ih `,` $w_hh (`bias` `(` $b_ih^ `,` $b_hh `)`)? (`h0` `(` $h0^ `)`)?
    (`c0` `(` $c0^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_GruOp : Dnn_RecurrentOp<"gru", "GRU layer (gates r, z, n)", (ins), (outs)> {
  let assemblyFormat = [{
    $input `,` $w_ih `,` $w_hh (`bias` `(` $b_ih^ `,` $b_hh `)`)? (`h0` `(` $h0^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_RnnOp : Dnn_RecurrentOp<"rnn", "Elman RNN layer: h' = act(W_ih x + b_ih + W_hh h + b_hh)",
                                (ins), (outs)> {
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$w_ih, Dnn_Tensor:$w_hh,
                       Optional<Dnn_Tensor>:$b_ih, Optional<Dnn_Tensor>:$b_hh,
                       Optional<Dnn_Tensor>:$h0,
                       DefaultValuedAttr<BoolAttr, "false">:$reverse,
                       DefaultValuedAttr<BoolAttr, "false">:$return_sequences,
                       DefaultValuedAttr<StrAttr, "\"tanh\"">:$activation);
  let assemblyFormat = [{
    $input `,` $w_ih `,` $w_hh (`bias` `(` $b_ih^ `,` $b_hh `)`)? (`h0` `(` $h0^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_RecurrenceOp : Dnn_Op<"recurrence", [NoSideEffect, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "the recurrent part of an rnn, lstm or gru layer whose input projection is hoisted";
  let description = [{
    Made by dnn-unroll-recurrence: `xproj` [N, T, G*H] holds x W_ih^T + b_ih
    of every time step (one GEMM before the loop), so each step only computes
    h W_hh^T + b_hh and the gates of `cell` (lstm, gru, rnn_tanh, rnn_relu).
    The host loop runs `unroll` steps per iteration (T: fully unrolled).
    Results as the layer ops': the sequence or final state, h_n, c_n (LSTM).
  }];
  let arguments = (ins Dnn_Tensor:$xproj, Dnn_Tensor:$w_hh, Optional<Dnn_Tensor>:$b_hh,
                   Optional<Dnn_Tensor>:$h0, Optional<Dnn_Tensor>:$c0,
                   StrAttr:$cell,
                   DefaultValuedAttr<BoolAttr, "false">:$reverse,
                   DefaultValuedAttr<BoolAttr, "false">:$return_sequences,
                   DefaultValuedAttr<I64Attr, "1">:$unroll);
  let results = (outs Dnn_Tensor:$result, Dnn_Tensor:$h_n, Optional<Dnn_Tensor>:$c_n);
  let assemblyFormat = [{
    $xproj `,` $w_hh (`bias` `(` $b_hh^ `)`)? (`h0` `(` $h0^ `)`)? (`c0` `(` $c0^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let verifier = [{ return verifyOp(*this); }];
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Dnn_AttentionOp : Dnn_ShapedOp<"attention"> {
  let summary = "scaled dot-product attention: softmax(q k^T * scale) v";
  let description = [{
    q [N, ..., Tq, d], k [N, ..., Tk, d], v [N, ..., Tk, dv] -> [N, ..., Tq, dv].
    `scale` defaults to 1/sqrt(d). With `causal`, query i sees keys j <= i
    (PyTorch scaled_dot_product_attention(is_causal=True)).
  }];
  let arguments = (ins Dnn_Tensor:$query, Dnn_Tensor:$key, Dnn_Tensor:$value,
                   DefaultValuedAttr<BoolAttr, "false">:$causal,
                   OptionalAttr<F32Attr>:$scale);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_MultiHeadAttentionOp : Dnn_Op<"multi_head_attention",
    [NoSideEffect, AttrSizedOperandSegments,
     DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "multi-head attention as PyTorch nn.MultiheadAttention(batch_first=True)";
  let description = [{
    q [N, Tq, E], k and v [N, Tk, E]; `in_proj_weight` [3E, E] (q, k, v rows),
    `in_proj_bias` [3E], `out_proj_weight` [E, E], `out_proj_bias` [E]
    (biases both or neither); `heads` divides E. Decomposed into projections,
    per-head attention and the output projection before code generation.
  }];
  let arguments = (ins Dnn_Tensor:$query, Dnn_Tensor:$key, Dnn_Tensor:$value,
                   Dnn_Tensor:$in_proj_weight, Optional<Dnn_Tensor>:$in_proj_bias,
                   Dnn_Tensor:$out_proj_weight, Optional<Dnn_Tensor>:$out_proj_bias,
                   I64Attr:$heads, DefaultValuedAttr<BoolAttr, "false">:$causal);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $in_proj_weight `,` $out_proj_weight
    (`bias` `(` $in_proj_bias^ `,` $out_proj_bias `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let verifier = [{ return verifyOp(*this); }];
}

//===----------------------------------------------------------------------===//
// Fused elementwise chains
//===----------------------------------------------------------------------===//

def Dnn_FusedElementwiseOp : Dnn_Op<"fused_elementwise",
    [NoSideEffect, IsolatedFromAbove, SingleBlock]> {
  let summary = "a chain of elementwise ops computed by one kernel";
  let description = [{
    Made by dnn-fuse-elementwise. The body's block arguments are the inputs;
    its ops are elementwise dnn ops (add, sub, mul, activations, broadcasting
    as usual) and `dnn.yield` gives the result. One kernel computes the whole
    chain per element, so intermediates never go through memory.
  }];
  let arguments = (ins Variadic<Dnn_Tensor>:$inputs);
  let results = (outs Dnn_Tensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, results) $body";
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_YieldOp : Dnn_Op<"yield", [NoSideEffect, Terminator,
                                   HasParent<"FusedElementwiseOp">]> {
  let summary = "the result of a fused_elementwise body";
  let arguments = (ins Dnn_Tensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

include "dnnc/IR/DnnTrainOps.td"

#endif // DNN_OPS
