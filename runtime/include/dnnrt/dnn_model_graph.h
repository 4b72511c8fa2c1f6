/*
 * The contract between dnnc's generated code and the runtime. Every model.so
 * contains a generated object that defines the two symbols below; the
 * runtime's C API (dnn_model_api.h) is built on top of them.
 *
 * dnn_model_manifest is NUL-terminated text, one record per line, fields
 * separated by single spaces, names matching [A-Za-z0-9_.]+:
 *
 *   dnn-manifest 1
 *   model mnist_cnn
 *   workspace <bytes_per_batch_item> <fixed_bytes>
 *   derived <bytes>                     (optional; 0 when absent)
 *   input x 4 -1 1 28 28
 *   output probs 2 -1 10
 *   weight conv1.weight 4 32 1 3 3
 *
 * "input|output|weight <name> <rank> <dims...>"; a dim of -1 (only ever dim
 * 0 of an input or output) is the batch size. Records of each kind are listed
 * in the order of the matching pointer array of dnn_model_graph_run.
 *
 * dnn_model_graph_prepare computes, from the weights alone, the tensors the
 * graph needs that do not depend on the inputs (folded and repacked weights)
 * into `derived`, 64-byte aligned memory of `derived` bytes that must be kept
 * for the runs; it runs after the weights are loaded or changed.
 *
 * dnn_model_graph_run computes the graph for `batch` items (1 when no dim is
 * -1). `workspace` is 64-byte aligned scratch memory of
 * batch * bytes_per_batch_item + fixed_bytes bytes. Each pointer is a dense
 * row-major float32 tensor of its full shape; weights are 64-byte aligned.
 *
 * dnn_model_graph_train, for a model with a train block (a train_spec
 * record), runs one training step: `inputs` are the model's inputs, the
 * targets, then hyper (8 floats: learning rate, optimizer step from 1,
 * dropout seed, dropout step, batch size, 3 spare); `outputs` the loss [1]
 * and the prediction output; `states` the optimizer state tensors, zero
 * before the first step. It updates the weights and states in place; its
 * workspace is sized by train_workspace. Without a train block it returns
 * -1. Training records:
 *
 *   train_workspace <bytes_per_batch_item> <fixed_bytes>
 *   train_max_batch <n>                 (dynamic-batch models)
 *   target y 1 -1
 *   state optimizer.fc1.weight.exp_avg 2 256 784
 *   train_spec {...}                    (the train block as JSON, to the end of the line)
 *   init fc1.weight uniform 0.0866      (after a weight: its initial values, also without training)
 *
 * workspace and train_workspace: the fixed region comes first, then batch *
 * bytes_per_batch_item.
 *
 * All return 0 on success, else a Halide error code (the message having gone
 * to the Halide error handler).
 */
#ifndef DNN_MODEL_GRAPH_H
#define DNN_MODEL_GRAPH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const char dnn_model_manifest[];

int dnn_model_graph_prepare(void *derived, float *const *weights);

int dnn_model_graph_run(void *workspace, int64_t batch, float *const *weights,
                        const float *const *inputs, float *const *outputs,
                        void *derived);

int dnn_model_graph_train(void *workspace, int64_t batch, float *const *weights,
                          const float *const *inputs, float *const *outputs,
                          float *const *states);

#ifdef __cplusplus
}
#endif

#endif /* DNN_MODEL_GRAPH_H */
