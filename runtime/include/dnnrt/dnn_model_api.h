/*
 * C API of a dnnc-compiled model (model.so). Typical use:
 *
 *   dnn_context *ctx = dnn_create("weights.safetensors");
 *   if (!ctx) { fprintf(stderr, "%s\n", dnn_last_error()); return 1; }
 *   int64_t shape[4] = {batch, 1, 28, 28};
 *   dnn_set_input(ctx, "x", pixels, shape, 4);
 *   if (dnn_run(ctx) != 0) { ... dnn_last_error() ... }
 *   const float *probs = dnn_output(ctx, "probs", NULL);
 *   dnn_destroy(ctx);
 *
 * Conventions: functions returning int return 0 on success and nonzero on
 * error; functions returning a pointer return NULL on error; counts and ranks
 * are -1 on error. After an error, dnn_last_error() says what went wrong.
 * Tensors are dense row-major float32. A dim reported as -1 is the batch
 * size N, chosen per run by the inputs. A context is not thread-safe, but
 * separate contexts may be used from separate threads.
 */
#ifndef DNN_MODEL_API_H
#define DNN_MODEL_API_H

#include <stdint.h>

#if defined(__GNUC__)
#define DNN_API __attribute__((visibility("default")))
#else
#define DNN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Owns the weights, the input and output buffers and the scratch memory. */
typedef struct dnn_context dnn_context;

/* Message of the last failed call on this thread, "" if that call succeeded.
 * Valid until the next dnn_* call on this thread. */
DNN_API const char *dnn_last_error(void);

/* Name of the model as given to dnnc. */
DNN_API const char *dnn_model_name(void);

/* Floating-point operations of one batch item as dnnc counted them (a
 * multiply-add counts 2), or 0 when unknown; -1 on error. */
DNN_API int64_t dnn_model_flops(void);

/* Creates a context with weights from a safetensors file (e.g. a PyTorch
 * state_dict saved with safetensors.torch.save_file). Every weight of the
 * model must be present with its exact shape; F32, F64, F16 and BF16 data is
 * accepted. Extra tensors in the file are ignored. */
DNN_API dnn_context *dnn_create(const char *weights_path);

/* Creates a context from `count` named weights in memory, in PyTorch
 * state_dict layout; each data[i] holds as many floats as the model's shape
 * for names[i] says. The data is copied. Names the model does not use are
 * ignored. */
DNN_API dnn_context *dnn_create_from_memory(const char *const *names,
                                            const float *const *data,
                                            int count);

/* Frees a context; NULL is allowed. */
DNN_API void dnn_destroy(dnn_context *ctx);

/* Inputs, outputs and weights of the model, in a fixed order. Names stay
 * valid for the life of the process. dnn_*_dim returns -1 for the batch dim
 * and -2 for a bad index. These describe the model, so ctx may be NULL
 * (e.g. to learn the weights' shapes before creating a context). */
DNN_API int dnn_num_inputs(const dnn_context *ctx);
DNN_API const char *dnn_input_name(const dnn_context *ctx, int i);
DNN_API int dnn_input_rank(const dnn_context *ctx, int i);
DNN_API int64_t dnn_input_dim(const dnn_context *ctx, int i, int d);

DNN_API int dnn_num_outputs(const dnn_context *ctx);
DNN_API const char *dnn_output_name(const dnn_context *ctx, int i);
DNN_API int dnn_output_rank(const dnn_context *ctx, int i);
DNN_API int64_t dnn_output_dim(const dnn_context *ctx, int i, int d);

DNN_API int dnn_num_weights(const dnn_context *ctx);
DNN_API const char *dnn_weight_name(const dnn_context *ctx, int i);
DNN_API int dnn_weight_rank(const dnn_context *ctx, int i);
DNN_API int64_t dnn_weight_dim(const dnn_context *ctx, int i, int d);

/* Copies an input into the context. `shape` has `rank` entries and must
 * match the model's shape for the input, with any batch size N >= 1. Inputs
 * set since the last dnn_run must agree on N. */
DNN_API int dnn_set_input(dnn_context *ctx, const char *name, const float *data,
                          const int64_t *shape, int rank);

/* Runs the model on the inputs set so far (all of them must be set). Memory
 * is allocated only when the batch size exceeds every earlier one. */
DNN_API int dnn_run(dnn_context *ctx);

/* An output of the last successful dnn_run, owned by the context and valid
 * until the next dnn_run or dnn_destroy. If `shape_out` is not NULL, the
 * output's shape (rank entries, batch filled in) is written there. */
DNN_API const float *dnn_output(const dnn_context *ctx, const char *name,
                                int64_t *shape_out);

/* Batch size of the last successful dnn_run; 0 before the first. */
DNN_API int64_t dnn_batch(const dnn_context *ctx);

/* Sets the number of worker threads the kernels use, for all contexts;
 * 0 means one per core. Call it while no model is running: it stops the
 * current workers. */
DNN_API int dnn_set_num_threads(int n);

/* ------------------------------------------------------------------------
 * Training, for models whose .dnn has a train block. A training step runs
 * the forward in training mode (dropout masks, batch statistics), the loss,
 * the backward and the optimizer update of every weight, all in compiled
 * kernels, on the inputs and targets set since the last step. Typical use:
 *
 *   dnn_context *ctx = dnn_create_initialized(42);
 *   for (each batch) {
 *     dnn_set_input(ctx, "x", images, xshape, 2);
 *     dnn_set_target(ctx, "y", labels, yshape, 1);
 *     float loss;
 *     if (dnn_train_step(ctx, 0.001f, &loss) != 0) { ... }
 *   }
 *   dnn_save_checkpoint(ctx, "ckpt.safetensors", NULL, NULL, 0);
 */

/* 1 if the model can train, 0 if it was compiled without a train block,
 * -1 on error. */
DNN_API int dnn_can_train(void);

/* The train block as JSON text, or NULL (with the error set) without one:
 * {"loss": {"kind": "cross_entropy", "prediction": <output index>,
 * "target": <target index>, ...}, "optimizer": {"kind": "adam", "lr": ...,
 * ...}, "schedule": {...} (optional), "batch_size": .., "epochs": ..,
 * "seed": .., "normalize": [{"input": <index>, "scale", "mean", "std"}],
 * "target_names": [...], "target_types": [<shapes>]}. */
DNN_API const char *dnn_train_spec(void);

/* The targets (labels) a training step reads, like the inputs; ctx may be
 * NULL. */
DNN_API int dnn_num_targets(const dnn_context *ctx);
DNN_API const char *dnn_target_name(const dnn_context *ctx, int i);
DNN_API int dnn_target_rank(const dnn_context *ctx, int i);
DNN_API int64_t dnn_target_dim(const dnn_context *ctx, int i, int d);

/* Creates a context whose weights start from the compiler's per-layer rules
 * (He or Glorot uniform kernels, zero biases, identity normalization,
 * PyTorch's recurrent init), drawn from `seed`: the same seed gives the
 * same weights as `dnnc --init-weights --seed`. */
DNN_API dnn_context *dnn_create_initialized(uint64_t seed);

/* Copies a target for the next training step; as dnn_set_input (class
 * indices are floats holding integers). */
DNN_API int dnn_set_target(dnn_context *ctx, const char *name, const float *data,
                           const int64_t *shape, int rank);

/* One training step with learning rate `learning_rate` on the inputs and
 * targets set, which must agree on the batch size. *loss (if not NULL)
 * receives the batch's mean loss. Afterwards dnn_output gives the
 * prediction output (the one the loss reads) for this batch. */
DNN_API int dnn_train_step(dnn_context *ctx, float learning_rate, float *loss);

/* Optimizer steps taken (restored by dnn_load_checkpoint); -1 on error. */
DNN_API int64_t dnn_train_steps(const dnn_context *ctx);

/* Seed of the dropout masks (default: the train block's seed); the masks
 * of a step depend on the seed and the step count only. Taken mod 2^24. */
DNN_API int dnn_set_train_seed(dnn_context *ctx, uint64_t seed);

/* Writes the weights as a safetensors state_dict, atomically (a temporary
 * file, fsync, rename). */
DNN_API int dnn_save_weights(const dnn_context *ctx, const char *path);

/* Writes a checkpoint, atomically: the weights, the optimizer state (as
 * "optimizer.<weight>.<slot>" with torch.optim's slot names), the step
 * count and seed, and `count` extra metadata entries keys[i] = values[i]. */
DNN_API int dnn_save_checkpoint(const dnn_context *ctx, const char *path,
                                const char *const *keys, const char *const *values,
                                int count);

/* Restores the weights, optimizer state, step count and seed saved by
 * dnn_save_checkpoint, so training continues exactly where it stopped. */
DNN_API int dnn_load_checkpoint(dnn_context *ctx, const char *path);

/* A metadata value of the checkpoint last loaded into ctx, or NULL. */
DNN_API const char *dnn_checkpoint_metadata(const dnn_context *ctx, const char *key);

#ifdef __cplusplus
}
#endif

#endif /* DNN_MODEL_API_H */
