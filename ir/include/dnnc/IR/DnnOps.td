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

def Dnn_DenseOp : Dnn_ShapedOp<"dense"> {
  let summary = "fully connected layer: y = act(x W^T + b)";
  let description = [{
    `x` is [N, in], `weight` is [units, in] (PyTorch Linear), `bias` [units].
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$weight,
                   Optional<Dnn_Tensor>:$bias,
                   Dnn_ActivationAttr:$activation, Dnn_AlphaAttr:$alpha);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_Conv2dOp : Dnn_ShapedOp<"conv2d"> {
  let summary = "2-D convolution (NCHW), with groups and a fused activation";
  let description = [{
    `weight` is [out, in/groups, kh, kw] (PyTorch Conv2d), `bias` [out].
    `padding` is [top, left, bottom, right]; `strides`, `dilations` are [h, w].
    out = floor((in + pad_before + pad_after - dilation*(k-1) - 1) / stride) + 1.
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

class Dnn_Pool2dOp<string mnemonic> : Dnn_ShapedOp<mnemonic> {
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_MaxPool2dOp : Dnn_Pool2dOp<"maxpool2d"> {
  let summary = "2-D max pooling; padded positions never win";
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$kernel,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding);
}

def Dnn_AvgPool2dOp : Dnn_Pool2dOp<"avgpool2d"> {
  let summary = "2-D average pooling";
  let description = [{
    With `count_include_pad` the divisor is the window size (PyTorch's
    default), otherwise the number of in-bounds elements (Keras).
  }];
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$kernel,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
}

def Dnn_GlobalAvgPool2dOp : Dnn_Pool2dOp<"global_avgpool2d"> {
  let summary = "mean over H and W: [N, C, H, W] -> [N, C]";
  let arguments = (ins Dnn_Tensor:$input);
}

def Dnn_FlattenOp : Dnn_Pool2dOp<"flatten"> {
  let summary = "[N, d1, ..., dk] -> [N, d1*...*dk]; a view, no data moves";
  let arguments = (ins Dnn_Tensor:$input);
  let hasFolder = 1;
}

def Dnn_BatchNormOp : Dnn_ShapedOp<"batchnorm"> {
  let summary = "batch normalization, inference form, over channel axis 1";
  let description = [{
    y = gamma * (x - running_mean) / sqrt(running_var + epsilon) + beta,
    parameters named as PyTorch BatchNorm: weight, bias, running_mean, running_var.
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$gamma, Dnn_Tensor:$beta,
                   Dnn_Tensor:$mean, Dnn_Tensor:$variance,
                   DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_DropoutOp : Dnn_ShapedOp<"dropout"> {
  let summary = "dropout; the identity at inference (folded away)";
  let arguments = (ins Dnn_Tensor:$input, F32Attr:$rate);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

class Dnn_BinaryOp<string mnemonic, string what> : Dnn_ShapedOp<mnemonic> {
  let summary = what;
  let arguments = (ins Dnn_Tensor:$lhs, Dnn_Tensor:$rhs);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Dnn_AddOp : Dnn_BinaryOp<"add", "elementwise sum of two tensors of the same shape (residual add)">;
def Dnn_SubOp : Dnn_BinaryOp<"sub", "elementwise difference of two tensors of the same shape">;
def Dnn_MulOp : Dnn_BinaryOp<"mul", "elementwise product of two tensors of the same shape">;

class Dnn_UnaryOp<string mnemonic, string what> : Dnn_ShapedOp<mnemonic> {
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

def Dnn_GluOp : Dnn_ShapedOp<"glu"> {
  let summary = "gated linear unit: halves a, b of `axis`; a * sigmoid(b)";
  let arguments = (ins Dnn_Tensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_LayerNormOp : Dnn_ShapedOp<"layernorm"> {
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

def Dnn_GlobalMaxPool2dOp : Dnn_Pool2dOp<"global_maxpool2d"> {
  let summary = "max over H and W: [N, C, H, W] -> [N, C]";
  let arguments = (ins Dnn_Tensor:$input);
}

def Dnn_TransposeOp : Dnn_ShapedOp<"transpose"> {
  let summary = "permutes dimensions: out.shape[i] = in.shape[perm[i]]; perm[0] = 0";
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$perm);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_ConcatOp : Dnn_ShapedOp<"concat"> {
  let summary = "joins tensors along `axis` (not the batch)";
  let arguments = (ins Variadic<Dnn_Tensor>:$inputs, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
}

def Dnn_ReshapeOp : Dnn_Op<"reshape", [NoSideEffect]> {
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
}

#endif // DNN_OPS
