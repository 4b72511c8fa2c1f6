/*
 * classify.c: a complete C application using a dnnc-compiled model.
 *
 *   dnnc examples/mnist_cnn.dnn -o mnist_cnn.so      (writes mnist_cnn.h too)
 *   cc -DMODEL_HEADER='"mnist_cnn.h"' classify.c mnist_cnn.so -Wl,-rpath,. -o classify
 *   ./classify weights.safetensors [image.f32]
 *
 * image.f32 holds 28*28 raw little-endian float32 pixels; without it the app
 * classifies a synthetic image (a ring, roughly a zero).
 */
#include MODEL_HEADER

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { kSide = 28, kClasses = 10 };

static int load_image(const char *path, float *pixels) {
  FILE *f = fopen(path, "rb");
  size_t got;
  if (!f) {
    fprintf(stderr, "classify: cannot open '%s'\n", path);
    return 1;
  }
  got = fread(pixels, sizeof(float), kSide * kSide, f);
  fclose(f);
  if (got != kSide * kSide) {
    fprintf(stderr, "classify: '%s' holds %zu floats, expected %d\n", path, got, kSide * kSide);
    return 1;
  }
  return 0;
}

static void synthetic_ring(float *pixels) {
  int y, x;
  for (y = 0; y < kSide; ++y)
    for (x = 0; x < kSide; ++x) {
      double r = sqrt((x - 13.5) * (x - 13.5) + (y - 13.5) * (y - 13.5));
      pixels[y * kSide + x] = (r > 6.0 && r < 9.0) ? 1.0f : 0.0f;
    }
}

int main(int argc, char **argv) {
  static float pixels[kSide * kSide];
  const int64_t shape[4] = {1, 1, kSide, kSide};
  int64_t out_shape[2];
  const float *probs;
  double sum = 0.0;
  int best = 0, i;
  dnn_context *ctx;

  if (argc < 2) {
    fprintf(stderr, "usage: %s weights.safetensors [image.f32]\n", argv[0]);
    return 2;
  }
  if (argc > 2 ? load_image(argv[2], pixels) : (synthetic_ring(pixels), 0))
    return 1;

  ctx = dnn_create(argv[1]);
  if (!ctx) {
    fprintf(stderr, "classify: %s\n", dnn_last_error());
    return 1;
  }
  if (dnn_set_input(ctx, "x", pixels, shape, 4) != 0 || dnn_run(ctx) != 0) {
    fprintf(stderr, "classify: %s\n", dnn_last_error());
    dnn_destroy(ctx);
    return 1;
  }
  probs = dnn_output(ctx, "probs", out_shape);
  for (i = 0; i < kClasses; ++i) {
    sum += probs[i];
    if (probs[i] > probs[best])
      best = i;
  }
  printf("model %s, output shape [%lld, %lld]\n", DNN_MODEL_NAME, (long long)out_shape[0],
         (long long)out_shape[1]);
  printf("predicted class: %d\n", best);
  printf("probabilities sum to %.4f\n", sum);
  dnn_destroy(ctx);
  return 0;
}
