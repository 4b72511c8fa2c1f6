//===- DnnTrainOps.td - ops of training steps -------------*- tablegen -*-===//
//
// The ops dnn-build-training adds to a training function: forward layers in
// their training form (dropout with a mask, batchnorm with batch
// statistics, recurrences that keep their gates), the loss, the backward
// ops the gradient rules build, and the optimizer's in-place updates.
//
// `hyper` is the training step's tensor<8xf32> of run-time settings, filled
// by the runtime before each step: [0] learning rate, [1] optimizer step t
// (from 1), [2] seed, [3] dropout step, [4] batch size; the rest spare.
//
//===----------------------------------------------------------------------===//
#ifndef DNN_TRAIN_OPS
#define DNN_TRAIN_OPS

class Dnn_TrainOp<string mnemonic, list<Trait> traits = []>
    : Dnn_Op<mnemonic, !listconcat(traits, [NoSideEffect])> {
  let verifier = [{ return verifyOp(*this); }];
}

//===----------------------------------------------------------------------===//
// Persistent tensors and updates
//===----------------------------------------------------------------------===//

def Dnn_StateOp : Dnn_Op<"state", [NoSideEffect]> {
  let summary = "a named optimizer state tensor, zero before the first step";
  let description = [{
    `%m = dnn.state "optimizer.fc1.weight.exp_avg" : tensor<32x784xf32>`
    lives as long as the model's context, is updated in place by
    `dnn.optimizer_update` and saved in checkpoints under its name
    (PyTorch's optimizer state names: momentum_buffer, sum, square_avg,
    exp_avg, exp_avg_sq).
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_OptimizerUpdateOp : Dnn_Op<"optimizer_update", [MemoryEffects<[MemWrite]>]> {
  let summary = "one optimizer step on a weight and its states, in place";
  let description = [{
    `settings` is the train block's optimizer: `kind` (sgd, adagrad,
    rmsprop, adam, adamw) and its fixed hyperparameters (momentum, nesterov,
    weight_decay, eps, alpha, beta1, beta2); the learning rate and step
    count come from `hyper`. `param` is a dnn.weight, `states` the
    dnn.state tensors of the kind (sgd with momentum: momentum_buffer;
    adagrad: sum; rmsprop: square_avg; adam(w): exp_avg, exp_avg_sq). The
    formulas are torch.optim's.
  }];
  let arguments = (ins Dnn_Tensor:$param, Dnn_Tensor:$grad, Dnn_Tensor:$hyper,
                   Variadic<Dnn_Tensor>:$states, DictionaryAttr:$settings);
  let assemblyFormat = [{
    $param `,` $grad `,` $hyper (`states` `(` $states^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_RunningStatsUpdateOp : Dnn_Op<"running_stats_update", [MemoryEffects<[MemWrite]>]> {
  let summary = "a batchnorm's running mean and variance moved toward the batch's, in place";
  let description = [{
    running = (1 - momentum) * running + momentum * batch statistic, with
    the unbiased batch variance (count / (count - 1)) as PyTorch, recovered
    from `invstd` = 1 / sqrt(var + epsilon). The count per channel is
    hyper[4] (the batch) times `count_per_item`.
  }];
  let arguments = (ins Dnn_Tensor:$running_mean, Dnn_Tensor:$running_var, Dnn_Tensor:$mean,
                   Dnn_Tensor:$invstd, Dnn_Tensor:$hyper, F32Attr:$momentum,
                   F32Attr:$epsilon, I64Attr:$count_per_item);
  let assemblyFormat = [{
    $running_mean `,` $running_var `,` $mean `,` $invstd `,` $hyper attr-dict `:`
    functional-type(operands, results)
  }];
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_ZerosOp : Dnn_TrainOp<"zeros"> {
  let summary = "a tensor of zeros (the gradient of a value the loss does not read)";
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Forward layers in training form
//===----------------------------------------------------------------------===//

def Dnn_DropoutTrainOp : Dnn_TrainOp<"dropout_train", [Dnn_Differentiable]> {
  let summary = "dropout in training: y = x * mask, mask 0 or 1 / (1 - rate)";
  let description = [{
    The mask comes from a counter-based hash of (hyper[2] seed, hyper[3]
    step, `stream`, element index), so a step is reproducible and each
    dropout layer of a model (its own stream) draws its own mask. The mask
    is kept for the backward: dx = dy * mask.
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$hyper, F32Attr:$rate, I64Attr:$stream);
  let results = (outs Dnn_Tensor:$result, Dnn_Tensor:$mask);
  let assemblyFormat = "$input `,` $hyper attr-dict `:` functional-type(operands, results)";
}

def Dnn_BatchNormTrainOp : Dnn_TrainOp<"batchnorm_train", [Dnn_Differentiable]> {
  let summary = "batch normalization with the batch's statistics (training mode)";
  let description = [{
    Over every axis but the channel axis 1: mean, biased variance var,
    invstd = 1 / sqrt(var + epsilon), y = (x - mean) * invstd * gamma + beta.
    Results: y, mean [C], invstd [C].
  }];
  let arguments = (ins Dnn_Tensor:$input, Dnn_Tensor:$gamma, Dnn_Tensor:$beta,
                   F32Attr:$epsilon);
  let results = (outs Dnn_Tensor:$result, Dnn_Tensor:$mean, Dnn_Tensor:$invstd);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_RecurrenceTrainOp : Dnn_Op<"recurrence_train",
    [NoSideEffect, AttrSizedOperandSegments, Dnn_Differentiable]> {
  let summary = "the recurrent part of a layer in training: keeps every step's state and gates";
  let description = [{
    As dnn.recurrence (xproj [N, T, G*H] = x W_ih^T + b_ih of every step),
    with results: `sequence` [N, T, H] (the state after each step), `h_n`
    [N, H], `gates` [N, T, S*H] (what the backward needs: S = 1 for rnn
    (h itself), 4 for lstm (i, f, g, o) and gru (r, z, n and
    h W_hn^T + b_hn)), and for lstm `cell_states` = (c_n [N, H], the cell
    state after each step [N, T, H]).
  }];
  let arguments = (ins Dnn_Tensor:$xproj, Dnn_Tensor:$w_hh, Optional<Dnn_Tensor>:$b_hh,
                   Optional<Dnn_Tensor>:$h0, Optional<Dnn_Tensor>:$c0, StrAttr:$cell,
                   DefaultValuedAttr<BoolAttr, "false">:$reverse);
  let results = (outs Dnn_Tensor:$sequence, Dnn_Tensor:$h_n, Dnn_Tensor:$gates,
                      Variadic<Dnn_Tensor>:$cell_states);
  let assemblyFormat = [{
    $xproj `,` $w_hh (`bias` `(` $b_hh^ `)`)? (`h0` `(` $h0^ `)`)? (`c0` `(` $c0^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let verifier = [{ return verifyOp(*this); }];
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

def Dnn_LossOp : Dnn_TrainOp<"loss"> {
  let summary = "the mean loss of a batch: tensor<1xf32>";
  let description = [{
    `kind` is cross_entropy (prediction: logits [N, ..., C]; target: class
    indices [N, ...] stored as floats, or probabilities like the logits;
    `label_smoothing` mixes the target with the uniform distribution),
    binary_cross_entropy (prediction: logits; target: probabilities of its
    shape) or mse. The mean is over the rows (cross entropy) or elements, as
    PyTorch's reduction='mean'.
  }];
  let arguments = (ins Dnn_Tensor:$prediction, Dnn_Tensor:$target, StrAttr:$kind,
                   DefaultValuedAttr<F32Attr, "0.0">:$label_smoothing);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$prediction `,` $target attr-dict `:` functional-type(operands, results)";
}

def Dnn_LossGradOp : Dnn_TrainOp<"loss_grad"> {
  let summary = "the gradient of dnn.loss with respect to its prediction";
  let arguments = (ins Dnn_Tensor:$prediction, Dnn_Tensor:$target, StrAttr:$kind,
                   DefaultValuedAttr<F32Attr, "0.0">:$label_smoothing);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$prediction `,` $target attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

def Dnn_ActivationGradOp : Dnn_TrainOp<"activation_grad"> {
  let summary = "dx = dy * act'(x) of an activation with input x and output y";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$input, Dnn_Tensor:$output,
                   StrAttr:$activation, Dnn_AlphaAttr:$alpha);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input `,` $output attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_SoftmaxGradOp : Dnn_TrainOp<"softmax_grad"> {
  let summary = "gradient of softmax (or log_softmax) from its output y";
  let description = [{
    softmax: dx = y * (dy - sum(dy * y, axis));
    log_softmax (`log`): dx = dy - exp(y) * sum(dy, axis).
  }];
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$output, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "false">:$log);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad `,` $output attr-dict `:` functional-type(operands, results)";
}

def Dnn_ReduceSumOp : Dnn_TrainOp<"reduce_sum"> {
  let summary = "sum over `axes`, which are removed (bias gradients, broadcast operands)";
  let arguments = (ins Dnn_Tensor:$input, I64ArrayAttr:$axes);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_DenseGradWeightOp : Dnn_TrainOp<"dense_grad_weight"> {
  let summary = "dense weight gradient: dW[o, i] = sum over rows of dy[r, o] x[r, i]";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$input);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` functional-type(operands, results)";
}

def Dnn_DenseGradInputOp : Dnn_TrainOp<"dense_grad_input"> {
  let summary = "dense input gradient: dx = dy W, dy [N, ..., units], W [units, in]";
  let description = [{
    The product with the weight in its stored (PyTorch) layout: the result
    is [N, ..., in], every row of dy's last dim multiplied by W. Code
    generation reads W in place, where a dense on the transposed weight
    needed a transposed copy of it each step.
  }];
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$weight);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad `,` $weight attr-dict `:` functional-type(operands, results)";
}

def Dnn_Conv2dGradWeightOp : Dnn_TrainOp<"conv2d_grad_weight"> {
  let summary = "conv2d weight gradient from dy and the conv's input";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$input, I64ArrayAttr:$strides,
                   I64ArrayAttr:$padding, I64ArrayAttr:$dilations, I64Attr:$groups);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` functional-type(operands, results)";
}

def Dnn_MaxPool2dGradOp : Dnn_TrainOp<"maxpool2d_grad"> {
  let summary = "each window's gradient to its first maximum (padding never wins)";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$input, I64ArrayAttr:$kernel,
                   I64ArrayAttr:$strides, I64ArrayAttr:$padding);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` functional-type(operands, results)";
}

def Dnn_AvgPool2dGradOp : Dnn_TrainOp<"avgpool2d_grad"> {
  let summary = "each window's gradient spread over it by the forward's divisor";
  let arguments = (ins Dnn_Tensor:$grad, I64ArrayAttr:$kernel, I64ArrayAttr:$strides,
                   I64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` type($grad) `->` type($result)";
}

def Dnn_GlobalPoolGradOp : Dnn_TrainOp<"global_pool_grad"> {
  let summary = "gradient of global_avgpool (`kind` avg) or global_maxpool (max)";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$input, StrAttr:$kind);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` functional-type(operands, results)";
}

def Dnn_Upsample2dGradOp : Dnn_TrainOp<"upsample2d_grad"> {
  let summary = "the adjoint of upsample2d";
  let arguments = (ins Dnn_Tensor:$grad, I64ArrayAttr:$scale,
                   DefaultValuedAttr<StrAttr, "\"nearest\"">:$mode);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` type($grad) `->` type($result)";
}

def Dnn_EmbeddingGradOp : Dnn_TrainOp<"embedding_grad"> {
  let summary = "table gradient: each row the sum of the dy rows that picked it";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$indices);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$grad `,` $indices attr-dict `:` functional-type(operands, results)";
}

def Dnn_ScaleOp : Dnn_TrainOp<"scale", [Dnn_Differentiable]> {
  let summary = "x * factor (attention's score scaling)";
  let arguments = (ins Dnn_Tensor:$input, F32Attr:$factor);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_CausalMaskOp : Dnn_TrainOp<"causal_mask", [Dnn_Differentiable]> {
  let summary = "scores [B, Tq, Tk] with key j > query i set to -infinity";
  let arguments = (ins Dnn_Tensor:$input);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Dnn_LayerNormGradOp : Dnn_TrainOp<"layernorm_grad"> {
  let summary = "layernorm gradients: dx, and dgamma, dbeta when it has them";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$input, Optional<Dnn_Tensor>:$gamma,
                   I64Attr:$normalized_rank, F32Attr:$epsilon);
  let results = (outs Dnn_Tensor:$input_grad, Variadic<Dnn_Tensor>:$affine_grads);
  let assemblyFormat = [{
    $grad `,` $input (`,` $gamma^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_BatchNormTrainGradOp : Dnn_TrainOp<"batchnorm_train_grad"> {
  let summary = "gradients of batchnorm_train: dx, dgamma, dbeta";
  let arguments = (ins Dnn_Tensor:$grad, Dnn_Tensor:$input, Dnn_Tensor:$gamma,
                   Dnn_Tensor:$mean, Dnn_Tensor:$invstd);
  let results = (outs Dnn_Tensor:$input_grad, Dnn_Tensor:$gamma_grad, Dnn_Tensor:$beta_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $gamma `,` $mean `,` $invstd attr-dict `:` functional-type(operands, results)
  }];
}

def Dnn_RecurrenceGradOp : Dnn_Op<"recurrence_grad", [NoSideEffect, AttrSizedOperandSegments]> {
  let summary = "backpropagation through time of a recurrence_train";
  let description = [{
    Operands: the gradients arriving at the state sequence (`grad_sequence`,
    [N, T, H]), at h_n and c_n (each optional: zeros when absent), then the
    forward's sequence, gates and (lstm) cell sequence, w_hh, h0, c0.
    Results: `xproj_grad` [N, T, G*H] (the gradient of the gate
    pre-activations that xproj enters), `h0_grad` [N, H], and `extra`: for
    lstm (c0_grad [N, H]), for gru (the gradient of h W_hh^T + b_hh
    [N, T, 3H], whose n block is r times xproj_grad's), none for rnn.
  }];
  let arguments = (ins Optional<Dnn_Tensor>:$grad_sequence, Optional<Dnn_Tensor>:$grad_h_n,
                   Optional<Dnn_Tensor>:$grad_c_n, Dnn_Tensor:$sequence, Dnn_Tensor:$gates,
                   Optional<Dnn_Tensor>:$cell_sequence, Dnn_Tensor:$w_hh,
                   Optional<Dnn_Tensor>:$h0, Optional<Dnn_Tensor>:$c0, StrAttr:$cell,
                   DefaultValuedAttr<BoolAttr, "false">:$reverse);
  let results = (outs Dnn_Tensor:$xproj_grad, Dnn_Tensor:$h0_grad,
                      Variadic<Dnn_Tensor>:$extra);
  let assemblyFormat = [{
    (`dseq` `(` $grad_sequence^ `)`)? (`dh_n` `(` $grad_h_n^ `)`)? (`dc_n` `(` $grad_c_n^ `)`)?
    $sequence `,` $gates (`cells` `(` $cell_sequence^ `)`)? `,` $w_hh (`h0` `(` $h0^ `)`)?
    (`c0` `(` $c0^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let verifier = [{ return verifyOp(*this); }];
}

def Dnn_PreviousStatesOp : Dnn_TrainOp<"previous_states"> {
  let summary = "the state each step of a recurrence started from: [N, T, H]";
  let description = [{
    Step t's previous state: `initial` (zeros when absent) for the first
    step processed (t = 0, or T-1 with `reverse`), else the sequence's state
    of the step processed before it. The right operand of dW_hh.
  }];
  let arguments = (ins Dnn_Tensor:$sequence, Optional<Dnn_Tensor>:$initial,
                   DefaultValuedAttr<BoolAttr, "false">:$reverse);
  let results = (outs Dnn_Tensor:$result);
  let assemblyFormat = [{
    $sequence (`initial` `(` $initial^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
}

#endif // DNN_TRAIN_OPS
