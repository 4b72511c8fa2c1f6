// Dense 2-D convolution (groups == 1) as a register-blocked GEMM on a
// stride-phase split, zero-padded, flattened copy of the input.
//
// The input image is copied once per call into xf: per channel, the stride
// phases of the zero-padded image (phase (py, px) holds the padded pixels
// whose row = py mod s and col = px mod s), each a dense Hph x Wph plane.
// Output pixel (oy, ox) at tap (ky, kx) then reads
//   xf[ci*CS + phaseOffset(ky, kx) + q],   q = oy*Wph + ox,
// an address affine in q with unit stride for every stride and dilation: a
// run of consecutive q is one dense vector load, and no im2col buffer is
// needed. (For stride 1 this is the "padded width" flattening, Wph = padded
// width.) Columns ox in [OW, Wph) of the q domain are garbage, computed and
// dropped.
//
// The weights are packed (at load time by the lowering, see
// buildConv2dWeightPack) as [O/cb][C][KH][KW][cb]: the cb output channels of
// one tap side by side, the taps in the order the reductions walk them.
//
// Two schedules, chosen from the shapes (planConv, ConvGemmSchedule.cpp):
//  - Pixels: y[co, q] = sum_k W[co, k] B[k, q], vectorized along q. The
//    accumulators are cb = 8 output channels x V vectors of q; per tap one
//    broadcast weight per channel and V dense loads of xf. For maps of
//    several rows the tiles' results go through a small staging buffer (q
//    runs across rows) from which the epilogue writes NCHW rows; one-row maps
//    (1x1 convolutions, which the lowering runs on [N, C, 1, H*W]) apply the
//    epilogue to the registers and read the input in place.
//  - Channels: vectorized along output channels: the cb = 32 or 64 channels
//    of a tap are vector loads of the packed weights and each output pixel a
//    broadcast of xf. The reduction runs in chunks of input channels whose
//    weights stay in L1 while the tiles of a band reuse them; the NCHW store
//    of a vector of channels is a scatter, cheap next to the long reductions
//    this schedule is chosen for.
// In both, bias, residual and activation are applied in the epilogue, on
// the accumulators (or the staging buffer, in L1), never as a separate pass.
#include "ConvGemm.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;
using namespace gemmconv;

namespace {

// The per-channel offset of tap (ky, kx) in xf.
Expr phaseOffset(const Geom &g, Expr ky, Expr kx) {
  const Conv2dAttrs &a = g.a;
  Expr row = ky * a.dilationH, col = kx * a.dilationW;
  Expr py = g.phH == 1 ? Expr(0) : row % a.strideH;
  Expr px = g.phW == 1 ? Expr(0) : col % a.strideW;
  return (py * g.phW + px) * int(g.Hph * g.Wph) + (row / a.strideH) * int(g.Wph) +
         col / a.strideW;
}

// xf(i, n): the phase-split zero-padded image n, flattened: a zero fill and
// one scattering copy per phase, each reading the input rows with stride s
// (dense for stride 1). Memory bound: vectorized; on images of 64K
// elements or more parallel over chunks (fill) and channels (copies):
// smaller ones are copied by the thread that owns the image (the tasks of a
// small image cost more in the pool's lock than the copy). The schedule
// places it.
Func flatPhaseInput(ImageParam in, const Geom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  Func xf(funcName("conv_flat_input"));
  Var i("i"), n("n"), io("io"), ii("ii");
  xf(i, n) = 0.0f;
  // Every read lies in [0, C*CS + slack): the q domain ends at the last real
  // output pixel, whose taps are real padded pixels, plus rounded-up tiles.
  // Fixed bounds give a constant-size buffer.
  const int64_t total = g.C * g.CS + xfSlack(g);
  xf.bound(i, 0, int(total));
  const bool parallelInImage = total >= 65536;
  if (total >= vec) { // (GuardWithIf here was seen to store past the bound)
    xf.split(i, io, ii, static_cast<int>(std::min<int64_t>(vec * 64, total / vec * vec)),
             TailStrategy::ShiftInwards)
        .vectorize(ii, vec);
    if (parallelInImage)
      xf.parallel(io);
  }
  const Conv2dAttrs &a = g.a;
  for (int py = 0; py < g.phH; ++py)
    for (int px = 0; px < g.phW; ++px) {
      // Phase row r holds padded row r*s + py, i.e. input row r*s + py - pt.
      const int64_t rowEnd = g.H - 1 + a.padTop - py, colEnd = g.W - 1 + a.padLeft - px;
      const int64_t i0 = std::max<int64_t>(0, ceilDiv(a.padTop - py, a.strideH));
      const int64_t i1 = rowEnd >= 0 ? rowEnd / a.strideH : -1;
      const int64_t j0 = std::max<int64_t>(0, ceilDiv(a.padLeft - px, a.strideW));
      const int64_t j1 = colEnd >= 0 ? colEnd / a.strideW : -1;
      if (i1 < i0 || j1 < j0)
        continue;
      RDom r(int(j0), int(j1 - j0 + 1), int(i0), int(i1 - i0 + 1), 0, int(g.C), "phase");
      Expr dst =
          r.z * int(g.CS) + (py * g.phW + px) * int(g.Hph * g.Wph) + r.y * int(g.Wph) + r.x;
      xf(dst, n) = in(r.x * a.strideW + px - a.padLeft, r.y * a.strideH + py - a.padTop, r.z, n);
      RVar rxo("rxo"), rxi("rxi");
      const int width = static_cast<int>(std::min<int64_t>(vec, j1 - j0 + 1));
      xf.update(xf.num_update_definitions() - 1)
          .allow_race_conditions() // the destinations are distinct (injective in r)
          .split(r.x, rxo, rxi, width, TailStrategy::GuardWithIf)
          .vectorize(rxi);
      if (parallelInImage)
        xf.update(xf.num_update_definitions() - 1).parallel(r.z);
    }
  return xf;
}

// wp(coi, kx, ky, ci, cob) = weight(kx, ky, ci, cob*cb + coi), zero for the
// padding channels of the last block.
Func packWeights(ImageParam w, int64_t O, int cb) {
  Func wp(funcName("conv_packed_weight"));
  Var coi("coi"), kx("kx"), ky("ky"), ci("ci"), cob("cob");
  Expr co = cob * cb + coi;
  wp(coi, kx, ky, ci, cob) = select(co < int(O), w(kx, ky, ci, min(co, int(O) - 1)), 0.0f);
  return wp;
}

// A one-row input with stride 1 and no padding (1x1 convolutions seen as
// [N, C, 1, H*W], unpadded 1-D ones) is its own flattened copy: the pixels
// schedule reads it in place.
bool readsInPlace(const Geom &g, const Plan &p) {
  const Conv2dAttrs &a = g.a;
  return p.mode == Mode::Pixels && g.H == 1 && a.strideW == 1 && a.strideH == 1 &&
         a.padTop == 0 && a.padLeft == 0 && a.padBottom == 0 && a.padRight == 0;
}

// The kernel on packed weights wp(coi, kx, ky, ci, cob) (an input or a Func
// of the inputs); `inputs` are x and the weights' input.
Kernel buildGemmConv(const Geom &g, const Plan &p, ImageParam in, Func wp,
                     std::vector<ImageParam> inputs, bool hasBias, ActivationSpec act,
                     bool hasResidual, const Target &t) {
  ImageParam b(Float(32), 1, "bias"), res(Float(32), 4, "residual");
  Var q("q"), coi("coi"), cob("cob"), n("n"), ox("ox"), oy("oy"), co("co"), kc("kc");
  const bool direct = readsInPlace(g, p);
  Func xf = direct ? Func() : flatPhaseInput(in, g, t);
  const int O = static_cast<int>(g.O), cb = p.cb;
  Func y(funcName("conv"));
  Expr sum;
  if (p.mode == Mode::Pixels) {
    const int vec = t.natural_vector_size<float>();
    const PixelTiles tl = pickPixelTiles(g, cb, pixelVector(g, t), vec);
    PixelFuncs f{y,  Func(funcName("conv_tile")), Func(funcName("conv_acc")), xf,
                 RDom(0, int(g.KW), 0, int(g.KH), 0, int(g.C), "k"), cb, g.OH > 1};
    const RDom &r = f.r;
    Expr input = direct ? in(q + r.x * g.a.dilationW, 0, r.z, n)
                        : xf(q + r.z * int(g.CS) + phaseOffset(g, r.y, r.x), n);
    // Padding channels of the last block read a clamped bias (their packed
    // weights are zero and their results are never stored).
    f.convp(q, coi, cob, n) = hasBias ? b(min(cob * cb + coi, O - 1)) : 0.0f;
    f.convp(q, coi, cob, n) += wp(coi, r.x, r.y, r.z, cob) * input;
    Expr pixel = oy * int(g.Wph) + ox;
    if (f.staged) {
      f.zq(q, coi, cob, n) = f.convp(q, coi, cob, n);
      sum = f.zq(pixel, co % cb, co / cb, n);
    } else {
      sum = f.convp(pixel, co % cb, co / cb, n);
    }
    if (hasResidual)
      sum += res(ox, oy, co, n);
    y(ox, oy, co, n) = applyActivation(sum, act);
    schedulePixels(f, tl, g, t);
  } else {
    // O is a multiple of cb here: no padding channels.
    const int chunk = pickChannelChunk(g, cb);
    ChannelFuncs f{y,
                   Func(funcName("conv_tile")),
                   Func(funcName("conv_acc")),
                   xf,
                   RDom(0, int(g.KW), 0, int(g.KH), 0, chunk, "k"),
                   RDom(0, int(g.C / chunk), "kc"),
                   cb};
    const RDom &r = f.r;
    Expr ci = kc * chunk + r.z;
    f.convc(coi, ox, oy, cob, kc, n) = 0.0f;
    f.convc(coi, ox, oy, cob, kc, n) +=
        wp(coi, r.x, r.y, ci, cob) *
        xf(oy * int(g.Wph) + ox + ci * int(g.CS) + phaseOffset(g, r.y, r.x), n);
    f.zc(coi, ox, oy, cob, n) = hasBias ? b(cob * cb + coi) : 0.0f;
    f.zc(coi, ox, oy, cob, n) += f.convc(coi, ox, oy, cob, f.rk.x, n);
    sum = f.zc(co % cb, ox, oy, co / cb, n);
    if (hasResidual)
      sum += res(ox, oy, co, n);
    y(ox, oy, co, n) = applyActivation(sum, act);
    scheduleChannels(f, pickChannelTiles(g, cb, t.natural_vector_size<float>()), g, t);
  }

  constrainDense(in, {g.N, g.C, g.H, g.W});
  if (hasBias) {
    constrainDense(b, {g.O});
    inputs.push_back(b);
  }
  if (hasResidual) {
    constrainDense(res, {g.N, g.O, g.OH, g.OW});
    inputs.push_back(res);
  }
  constrainDense(y.output_buffer(), {g.N, g.O, g.OH, g.OW});
  return makeKernel(y, inputs);
}

} // namespace

bool conv2dUsesGemm(const Shape &x, const Shape &weight, const Conv2dAttrs &a, const Shape &out) {
  return !prefersDirect(geometry(x, weight, a, out));
}

Shape conv2dPackedWeightShape(const Shape &x, const Shape &weight, const Conv2dAttrs &a,
                              const Shape &out) {
  const Geom g = geometry(x, weight, a, out);
  const Plan p = planConv(g);
  return {ceilDiv(g.O, p.cb), g.C, g.KH, g.KW, p.cb};
}

Kernel buildConv2dWeightPack(const Shape &weight, const Shape &packed, const Target &t) {
  requireCpuTarget(t, "conv2d weight pack");
  checkShape(weight, 4, "conv2d weight");
  checkShape(packed, 5, "conv2d packed weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: conv2d weight must be static");
  const int64_t cb = packed[4];
  checkSameShape({ceilDiv(weight[0], cb), weight[1], weight[2], weight[3], cb}, packed,
                 "conv2d packed weight");
  ImageParam w(Float(32), 4, "weight");
  Func wp = packWeights(w, weight[0], static_cast<int>(cb));
  Func out(funcName("conv_weight_pack"));
  std::vector<Var> v = wp.args();
  out(v) = wp(v);
  // Runs once, at load time: vectorized along the block, parallel over blocks.
  const int lanes = static_cast<int>(std::min<int64_t>(t.natural_vector_size<float>(), cb));
  Var coo("coo"), coi("coi");
  out.split(v[0], coo, coi, lanes, TailStrategy::GuardWithIf).vectorize(coi).parallel(v[4]);
  constrainDense(w, weight);
  constrainDense(out.output_buffer(), packed);
  return makeKernel(out, {w});
}

Kernel buildConv2dPacked(const Shape &x, const Shape &weight, const Shape &packed, bool hasBias,
                         const Conv2dAttrs &a, ActivationSpec act, const Shape &out,
                         const Target &t, bool hasResidual) {
  requireCpuTarget(t, "conv2d");
  const Geom g = geometry(x, weight, a, out);
  checkSameShape(conv2dPackedWeightShape(x, weight, a, out), packed, "conv2d packed weight");
  ImageParam in(Float(32), 4, "x"), wp(Float(32), 5, "packed_weight");
  constrainDense(wp, packed);
  return buildGemmConv(g, planConv(g), in, wp, {in, wp}, hasBias, act, hasResidual, t);
}

namespace detail {

Kernel buildConv2dGemm(const Shape &x, const Shape &weight, bool hasBias, const Conv2dAttrs &a,
                       ActivationSpec act, const Shape &out, const Target &t, bool hasResidual) {
  const Geom g = geometry(x, weight, a, out);
  const Plan p = planConv(g);
  ImageParam in(Float(32), 4, "x"), w(Float(32), 4, "weight");
  constrainDense(w, weight);
  // Packed once per call (the lowering packs at load time instead).
  Func wp = packWeights(w, g.O, p.cb);
  wp.compute_root().vectorize(wp.args()[0], std::min(p.cb, t.natural_vector_size<float>()),
                               TailStrategy::GuardWithIf);
  return buildGemmConv(g, p, in, wp, {in, w}, hasBias, act, hasResidual, t);
}

std::string describeConv2dSchedule(const Shape &x, const Shape &weight, const Conv2dAttrs &a,
                                   const Shape &out, const Target &t) {
  const Geom g = geometry(x, weight, a, out);
  const Plan p = planConv(g);
  const int vec = t.natural_vector_size<float>();
  if (p.mode == Mode::Channels) {
    const ChannelTiles tl = pickChannelTiles(g, p.cb, vec);
    return "channels cb=" + std::to_string(p.cb) + " tile=" + std::to_string(tl.tx) + "x" +
           std::to_string(tl.ty) + " rows=" + std::to_string(tl.TH) +
           " chunk=" + std::to_string(pickChannelChunk(g, p.cb)) +
           (xfPerImage(g) ? " per-image" : " all-images");
  }
  const PixelTiles tl = pickPixelTiles(g, p.cb, pixelVector(g, t), vec);
  return "pixels cb=" + std::to_string(p.cb) + " V=" + std::to_string(tl.V) +
         (g.OH > 1 ? " rows=" : " columns=") + std::to_string(tl.TH) +
         " G=" + std::to_string(tl.G) + (g.OH > 1 ? " staged" : " registers") +
         (readsInPlace(g, p) ? " in-place" : "");
}

} // namespace detail

} // namespace dnnc::kernels
