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

#endif // DNNC_PASSES
