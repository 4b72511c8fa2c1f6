// Internal header of the dense conv2d GEMM kernels (ConvGemm.cpp: algorithm
// and builders; ConvGemmSchedule.cpp: tile choices and schedules). Not part
// of the kernel API.
#pragma once

#include "ConvKernels.h"

#include <string>

namespace dnnc::kernels::gemmconv {

// Shapes of a dense conv2d and of its flattened, stride-phase split input xf
// (see ConvGemm.cpp).
struct Geom {
  int64_t N, C, H, W, O, KH, KW, OH, OW;
  Conv2dAttrs a;
  int64_t Hph, Wph; // extents of one phase plane (padded extents / stride)
  int phH, phW;     // phases kept per axis: the stride, or 1 when every tap
                    // reads phase 0 (1x1 kernels; dilation a multiple of the
                    // stride): strided 1x1 convs copy only what they read
  int64_t CS;       // elements per channel in xf: phH * phW * Hph * Wph
};

// Validates the shapes (std::invalid_argument) and derives the geometry.
Geom geometry(const Shape &x, const Shape &weight, const Conv2dAttrs &a, const Shape &out);

int64_t ceilDiv(int64_t a, int64_t b);

enum class Mode { Pixels, Channels };

// True where buildConv2d's direct convolution beats the GEMM kernel.
bool prefersDirect(const Geom &g);

// The schedule and the packed weights' block of output channels. Chosen
// from the shapes only: the packed layout is fixed before the target is.
struct Plan {
  Mode mode;
  int cb;
};
Plan planConv(const Geom &g);

// Pixels: register tile = cb channels x V vectors of q; tasks = (band of TH
// rows, group of G channels), or (segment of TH columns, G) for one-row
// maps. Staged: the band's tiles go through a staging buffer (maps of more
// than one row, where q runs across rows); else the epilogue runs on the
// registers.
struct PixelTiles {
  int V, TH, G;
  double cost;
};
// qvec: the q vector width (the target's, or less for tiny maps).
PixelTiles pickPixelTiles(const Geom &g, int cb, int qvec, int vec);
int pixelVector(const Geom &g, const Halide::Target &t);

// Channels: register tile = the cb channels (cb/vec vectors) x tx x ty
// pixels; tasks = (band of TH rows, image, block); reduction in chunks of
// `chunk` input channels.
struct ChannelTiles {
  int tx, ty, TH;
  double cost;
};
ChannelTiles pickChannelTiles(const Geom &g, int cb, int vec);
int pickChannelChunk(const Geom &g, int cb);

struct PixelFuncs {
  Halide::Func y, zq, convp, xf; // xf undefined: the input is read in place
  Halide::RDom r;                // taps (kx, ky, ci)
  int cb;
  bool staged; // false: zq unused
};
void schedulePixels(PixelFuncs &f, const PixelTiles &tl, const Geom &g, const Halide::Target &t);

struct ChannelFuncs {
  Halide::Func y, zc, convc, xf;
  Halide::RDom r, rk; // taps of one chunk (kx, ky, ci in chunk); chunks
  int cb;
};
void scheduleChannels(ChannelFuncs &f, const ChannelTiles &tl, const Geom &g,
                      const Halide::Target &t);

// Whether the channels schedule runs the images one after the other, each
// copied into xf just before its tasks (images of more than 64 KB of xf),
// rather than copying all images first.
bool xfPerImage(const Geom &g);

// Zeros after the last channel of xf, for register tiles rounded up past the
// image (the channels schedule's last tile of rows, at most 24, and
// columns).
int64_t xfSlack(const Geom &g);

} // namespace dnnc::kernels::gemmconv
