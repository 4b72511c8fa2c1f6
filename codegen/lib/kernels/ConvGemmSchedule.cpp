// Tile choices and CPU schedules of the dense conv2d GEMM kernels (the
// algorithm and the data layout are explained in ConvGemm.cpp).
//
// Measured (1 thread, this AVX-512 host, CPU time, FMA peak ~215 GFLOP/s):
// both schedules' register tiles run at 150-180 GFLOP/s per computed output;
// what differs between shapes is the work wasted on garbage columns,
// rounded-up tiles and overlapping bands, and the epilogue's cost against
// short reductions, which the costs below model.
//
// In a model the layers' data is cold: with the caches flushed before each
// run (bench/kernels/conv_bench, CONV_BENCH_FLUSH) ResNet-18's layers at
// batch 1 take 20-40% longer (1 thread, CPU time, medians: 64->64 3x3 56x56
// 1.52 -> 1.98 ms; 256->256 14x14 1.57 -> 1.85; 512->512 7x7, 9.4 MB of
// weights, 1.65 -> 2.40; the 7x7 stem 1.79 -> 2.23), which is most of the
// gap between the sum of the layers (~22 ms) and the model (~31 ms CPU).
// Software prefetch of the next chunk's weights (Stage::prefetch at the
// chunk loop) made it worse (512->512 7x7: 2.4 -> 5.7 ms).
#include "ConvGemm.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels::gemmconv {

using namespace Halide;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

Geom geometry(const Shape &x, const Shape &weight, const Conv2dAttrs &a, const Shape &out) {
  detail::checkShape(x, 4, "conv2d input");
  detail::checkShape(weight, 4, "conv2d weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: conv2d weight must be static");
  if (a.strideH < 1 || a.strideW < 1 || a.dilationH < 1 || a.dilationW < 1 || a.groups != 1 ||
      a.padTop < 0 || a.padLeft < 0 || a.padBottom < 0 || a.padRight < 0)
    throw std::invalid_argument(
        "dnnc kernels: invalid dense conv2d attributes (groups must be 1)");
  Geom g;
  g.a = a;
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.O = weight[0];
  g.KH = weight[2];
  g.KW = weight[3];
  detail::checkSameShape({g.C}, {weight[1]}, "conv2d weight channels");
  const int64_t Hp = g.H + a.padTop + a.padBottom, Wp = g.W + a.padLeft + a.padRight;
  const int64_t spanH = Hp - a.dilationH * (g.KH - 1) - 1;
  const int64_t spanW = Wp - a.dilationW * (g.KW - 1) - 1;
  if (spanH < 0 || spanW < 0)
    throw std::invalid_argument("dnnc kernels: conv2d kernel larger than padded input");
  g.OH = spanH / a.strideH + 1;
  g.OW = spanW / a.strideW + 1;
  detail::checkSameShape({g.N, g.O, g.OH, g.OW}, out, "conv2d result");
  g.Hph = ceilDiv(Hp, a.strideH);
  g.Wph = ceilDiv(Wp, a.strideW);
  g.phH = g.KH == 1 || a.dilationH % a.strideH == 0 ? 1 : a.strideH;
  g.phW = g.KW == 1 || a.dilationW % a.strideW == 0 ? 1 : a.strideW;
  g.CS = int64_t(g.phH) * g.phW * g.Hph * g.Wph;
  return g;
}

int64_t xfSlack(const Geom &g) { return 24 * g.Wph + 64; }

// Per image when the image's xf is worth keeping in L2 (> 64 KB) and the
// weights, then reread once per image, are not much larger than it
// (measured, batch 32, 1 thread: 512->512 3x3 7x7, 9.4 MB of weights
// against 166 KB of xf: 160 GFLOP/s all images at once, 144 per image;
// 256->256 3x3 14x14, 2.4 MB against 262 KB: 137 at once, 159 per image).
bool xfPerImage(const Geom &g) {
  const int64_t xfBytes = (g.C * g.CS + xfSlack(g)) * 4;
  const int64_t weightBytes = g.O * g.C * g.KH * g.KW * 4;
  return xfBytes > 64 * 1024 && weightBytes <= 16 * xfBytes;
}

// ---------------------------------------------------------------------------
// Tile choices.

int pixelVector(const Geom &g, const Target &t) {
  return static_cast<int>(
      std::min<int64_t>(t.natural_vector_size<float>(), (g.OH - 1) * g.Wph + g.OW));
}

PixelTiles pickPixelTiles(const Geom &g, int cb, int qvec, int vec) {
  PixelTiles best{1, g.OH == 1 ? qvec : int(g.OH), cb, std::numeric_limits<double>::max()};
  const int64_t blocks = ceilDiv(g.O, cb);
  const double K = double(g.C * g.KH * g.KW);
  // cb x V accumulators: 24 of the 32 AVX-512 registers, 8 of AVX2's 16.
  const int maxV = vec >= 16 ? 3 : 1;
  for (int V = 1; V <= maxV; ++V) {
    const int64_t QT = int64_t(V) * qvec;
    // One-row maps (1x1 convolutions seen as [N, C, 1, H*W]) are cut into
    // segments of TH columns, whole tiles (so no tile runs past the row and
    // the input can be read in place) instead of bands of rows.
    const bool segments = g.OH == 1;
    const int64_t steps = segments ? g.OW / QT : g.OH;
    for (int64_t step = 1; step <= steps; ++step) {
      const int64_t TH = segments ? step * QT : step;
      const int64_t qext = segments ? TH : (TH - 1) * g.Wph + g.OW;
      if (qext < QT)
        continue;
      const int64_t bands = ceilDiv(segments ? g.OW : g.OH, TH);
      const int64_t tiles = ceilDiv(qext, QT);
      for (int64_t gb = 1; gb <= blocks; ++gb) {
        if (blocks % gb)
          continue;
        const int64_t G = gb * cb;
        const int64_t tasks = bands * (blocks / gb);
        const double work = double(bands * tiles * QT) / double(g.OH * g.OW);
        // Fewer vectors per tile hide less latency and reload weights more.
        const double tileCost = 1.0 + 0.12 * (maxV - V);
        // Two threads: an odd task count idles one; few tasks, more so.
        const double balance = tasks >= 16 ? 1.0 : double(ceilDiv(tasks, 2) * 2) / double(tasks);
        // Small bands reread the band's input halo (KH - 1 rows).
        const double halo = 1.0 + 0.02 * double(g.KH - 1) / double(segments ? 1 : TH);
        // The staging buffer (maps of several rows): ~6 vector loads/stores
        // per 16 outputs against K/32 cycles of FMAs, three times dearer
        // once it leaves L1 (measured, 1x1, K = 64, 3136 pixels: 147
        // GFLOP/s with 48-column segments, 66 with one 100 KB segment).
        const double staged = segments ? 2.0 : 6.0;
        const double staging =
            1.0 + staged / K * (qext * G * 4 <= 32 * 1024 ? 1.0 : 3.0);
        const double cost = work * tileCost * balance * halo * staging;
        if (cost < best.cost - 1e-9)
          best = {V, int(TH), int(G), cost};
      }
    }
  }
  return best;
}

ChannelTiles pickChannelTiles(const Geom &g, int cb, int vec) {
  // Accumulator registers. Not 24 as in the pixels tiles: with one
  // broadcast per pixel LLVM hoists the broadcasts and spills beyond ~16
  // (measured, 64->64 3x3 56x56, 2 vectors x tx x ty: 4x2 pixels 164-170
  // GFLOP/s, 1x7 159, 1x8 140, 3x4 130, 12x1 97).
  const int budget = vec >= 16 ? 16 : 12;
  const int nv = cb / vec;
  const int64_t blocks = g.O / cb;
  ChannelTiles best{1, 1, int(g.OH), std::numeric_limits<double>::max()};
  for (int tx = 1; tx <= std::min<int64_t>(g.OW, std::max(1, budget / nv)); ++tx)
    for (int ty = 1; ty <= std::min<int64_t>(g.OH, std::max(1, budget / nv / tx)); ++ty)
      for (int64_t bands = 1; bands <= ceilDiv(g.OH, ty); ++bands) {
        const int64_t TH = std::min(g.OH, ceilDiv(ceilDiv(g.OH, bands), ty) * ty);
        const int64_t used = ceilDiv(g.OH, TH);
        const int64_t tasks = blocks * used;
        const int accs = nv * tx * ty;
        const double work = double(ceilDiv(g.OW, tx) * tx) *
                            double(used * ceilDiv(TH, ty) * ty) / double(g.OW * g.OH);
        // Each band rereads its block's weights; two threads want an even
        // task count (at batch 1), and at least 4.
        const double balance =
            tasks >= 8 ? 1.0 : double(std::max<int64_t>(4, ceilDiv(tasks, 2) * 2)) / double(tasks);
        // Fewer accumulators show the FMA latency; tall tiles measured a
        // little slower than wide ones.
        const double cost = work * balance * (1.0 + 0.01 * used) * std::max(1.0, 16.0 / accs) *
                            (1.0 + 0.02 * ty);
        if (cost < best.cost - 1e-9)
          best = {tx, ty, int(TH), cost};
      }
  return best;
}

int pickChannelChunk(const Geom &g, int cb) {
  // The chunk's weights of one block (chunk x KH x KW x cb floats) stay
  // within ~32 KB of L1 while the band's register tiles reuse them; without
  // chunks every tile streamed the block's weights from L2 or beyond
  // (measured, 512->512 3x3 7x7: 133 -> 152 GFLOP/s with chunks).
  int best = 1;
  for (int64_t cc = 1; cc <= g.C; ++cc)
    if (g.C % cc == 0 && cc * g.KH * g.KW * cb * 4 <= 32 * 1024)
      best = static_cast<int>(cc);
  return best;
}

// Short reductions (K <= 160) of kernels of 3x3 or more on unpadded maps
// whose rows are narrow next to the kernel: the q domain computes KW - 1
// garbage columns per row (12.5% and more here) and the staging costs a
// few operations per output against few FMAs, while the direct schedule
// reads the input in place with vectors of the row's width. Measured (1
// thread, CPU time, direct / GEMM): LeNet-5's 1->6 5x5 32x32 0.059 / 0.082
// ms at batch 32, 6->16 5x5 14x14 0.105 / 0.144; the GEMM still wins where
// the garbage is small (1->32 3x3 28x28: 0.371 / 0.226) or the input is
// padded (16->8 3x3 pad 1 14x14: 0.170 / 0.148).
bool prefersDirect(const Geom &g) {
  const Conv2dAttrs &a = g.a;
  const bool unpadded = a.padTop == 0 && a.padLeft == 0 && a.padBottom == 0 && a.padRight == 0;
  return unpadded && a.strideH == 1 && a.strideW == 1 && a.dilationH == 1 &&
         a.dilationW == 1 && g.KH >= 3 && g.KW >= 3 && g.C * g.KH * g.KW <= 160 &&
         (g.Wph - g.OW) * 8 >= g.Wph;
}

// Channels tiles run ~10% faster per computed output (2-4 aligned weight
// loads and 4-8 broadcasts per 16 FMAs, against 3 unaligned input loads and
// 8 broadcasts per 24): 1 thread, ResNet-18's 3x3 layers ran at 157-180
// GFLOP/s with channels against 129-155 with pixels. Their epilogue stores a
// vector of channels as a scatter into NCHW, ~20-40 cycles per 16 outputs
// against K/2 cycles of FMAs: pixels win on short reductions (the 7x7 stem,
// K = 147: 148 against 138; 1x1 convolutions, K = 64: 130 against 94).
Plan planConv(const Geom &g) {
  const int pixelBlock = static_cast<int>(std::min<int64_t>(g.O, 8));
  const int qvec = static_cast<int>(std::min<int64_t>(16, (g.OH - 1) * g.Wph + g.OW));
  const double pixels = pickPixelTiles(g, pixelBlock, qvec, 16).cost;
  const double K = double(g.C * g.KH * g.KW);
  double channels = std::numeric_limits<double>::max();
  int cb = 0;
  for (int block : {16, 32, 64}) {
    if (g.O % block)
      continue;
    const double c = pickChannelTiles(g, block, 16).cost * 0.9 * (1.0 + 40.0 / K);
    if (c < channels - 1e-9) {
      channels = c;
      cb = block;
    }
  }
  if (cb > 0 && channels <= pixels)
    return {Mode::Channels, cb};
  return {Mode::Pixels, pixelBlock};
}

// ---------------------------------------------------------------------------
// Schedules.

namespace {

// The register tile's reduction: convp (cb channels x V vectors of q, over
// all taps), computed at `at`.
void schedulePixelTile(PixelFuncs &f, const Geom &g, int qvec, LoopLevel at) {
  Func convp = f.convp;
  Var cq = convp.args()[0], cc = convp.args()[1];
  convp.compute_at(at).vectorize(cq, qvec).unroll(cq).unroll(cc);
  convp.update()
      .reorder(cq, cc, f.r.x, f.r.y, f.r.z)
      .vectorize(cq, qvec)
      .unroll(cq)
      .unroll(cc);
  if (g.KW <= 7)
    convp.update().unroll(f.r.x);
  // Short tap loops (1x1 kernels): unroll input channels too.
  const int64_t taps = g.KH * g.KW;
  int unrollC = 1;
  for (int u : {2, 3, 4})
    if (g.C % u == 0 && taps * u <= 4)
      unrollC = u;
  if (unrollC > 1) {
    RVar rzo("rzo"), rzi("rzi");
    convp.update().split(f.r.z, rzo, rzi, unrollC).unroll(rzi);
  }
}

} // namespace

// Batches of small images run one image per task: with the tasks inside
// each image, two threads met after every image (mnist_cnn's 32->64 3x3
// 11x11 layer, 4.5 MFLOP per image, batch 32, 2 threads: 2.0 ms, most of
// it in Halide's pool lock; slower than 1 thread). Images of more than 32
// MFLOP do the same from batch 4 on (their tasks met at a barrier after
// every image: ResNet-18 batch 32, 2 threads, 470 -> 428 ms; a batch of 2
// or 3 would leave a thread idle). Tiny images at batch 1 run on one
// thread: waking a worker costs more than it saves.
constexpr double kSmallImageFlops = 32e6, kTinyImageFlops = 8e6;
constexpr int kLargeImagesInParallel = 4;

double imageFlops(const Geom &g) {
  return 2.0 * double(g.O) * double(g.OH * g.OW) * double(g.C * g.KH * g.KW);
}

void parallelizeOverImagesOrTasks(Func y, Var n, Var task, const Geom &g) {
  const double flops = imageFlops(g);
  const int minImages = flops > kSmallImageFlops ? kLargeImagesInParallel : 2;
  const bool tasks = flops >= kTinyImageFlops;
  if (g.N != kDynamic) { // a static batch
    if (g.N >= minImages)
      y.parallel(n);
    else if (tasks)
      y.parallel(task);
    return;
  }
  y.specialize(y.output_buffer().dim(3).extent() >= minImages).parallel(n);
  if (tasks)
    y.parallel(task);
}

void schedulePixels(PixelFuncs &f, const PixelTiles &tl, const Geom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int qvec = pixelVector(g, t);
  const int QT = tl.V * qvec;
  Func y = f.y;
  Var ox = y.args()[0], oy = y.args()[1], co = y.args()[2], n = y.args()[3];
  Var oxo("oxo"), oxi("oxi"), oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi"), task("task");
  if (f.xf.defined())
    f.xf.compute_at(y, n);
  if (!f.staged) {
    // One row: q is the output column, so the epilogue runs on the
    // accumulators in registers and stores vectors of NCHW rows. Tasks:
    // (segment of TH columns, group of G channels); per tile of QT columns,
    // all the group's blocks of cb channels (which reuse the tile's input).
    // The cb split is exact (GuardWithIf on a scalar loop) so that co % cb
    // folds to the unrolled lane of the block.
    Var oxs("oxs"), oxr("oxr"), oxt("oxt"), oxq("oxq"), oxv("oxv"), cog("cog"), cbi("cbi");
    y.split(co, coo, coi, f.cb, TailStrategy::GuardWithIf)
        .split(coo, cog, cbi, tl.G / f.cb, TailStrategy::GuardWithIf)
        .split(ox, oxs, oxr, tl.TH, TailStrategy::ShiftInwards)
        .split(oxr, oxt, oxq, QT, TailStrategy::ShiftInwards)
        .split(oxq, oxv, oxi, qvec)
        .reorder(oxi, oxv, coi, cbi, oxt, oy, oxs, cog, n)
        .vectorize(oxi)
        .unroll(oxv)
        .unroll(coi)
        .fuse(oxs, cog, task);
    schedulePixelTile(f, g, qvec, LoopLevel(y, cbi));
    parallelizeOverImagesOrTasks(y, n, task, g);
    return;
  }
  // Several rows: per task (band of TH rows, group of G channels) the band's
  // register tiles (contiguous runs of q, across rows) go to the staging
  // buffer zq (L1), from which the epilogue writes the NCHW rows with
  // dense vectors. zq is pure: its tiles may overlap at the band's end.
  const int lanes = static_cast<int>(std::min<int64_t>(vec, g.OW));
  y.split(ox, oxo, oxi, lanes, TailStrategy::ShiftInwards)
      .split(oy, oyo, oyi, tl.TH, TailStrategy::ShiftInwards)
      .split(co, coo, coi, tl.G, TailStrategy::ShiftInwards)
      .reorder(oxi, oxo, oyi, coi, oyo, coo, n)
      .vectorize(oxi)
      .fuse(oyo, coo, task);
  Func zq = f.zq;
  Var q = zq.args()[0], zc = zq.args()[1], zb = zq.args()[2];
  Var qo("qo"), qi("qi"), qv("qv"), ql("ql");
  zq.compute_at(y, task)
      .split(q, qo, qi, QT, TailStrategy::ShiftInwards)
      .split(qi, qv, ql, qvec)
      .reorder(ql, qv, zc, zb, qo)
      .vectorize(ql)
      .unroll(qv)
      .unroll(zc);
  schedulePixelTile(f, g, qvec, LoopLevel(zq, zb));
  parallelizeOverImagesOrTasks(y, n, task, g);
}

void scheduleChannels(ChannelFuncs &f, const ChannelTiles &tl, const Geom &g, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  Func y = f.y, zc = f.zc, convc = f.convc;
  Var ox = y.args()[0], oy = y.args()[1], co = y.args()[2], n = y.args()[3];
  Var oyo("oyo"), oyi("oyi"), coo("coo"), coi("coi"), task("task");
  // Tasks: (band, channel block) with the bands innermost, so that
  // consecutive tasks share a block's weights (in L2). Images of more than
  // 64 KB of xf run one after the other, each copied into xf just before
  // its tasks (in L2): with xf computed for all images first, the blocks'
  // passes over the images streamed xf from DRAM (measured, batch 32,
  // 64->64 3x3 56x56: 53.5 -> 50.4 ms; 64->128 3x3 stride 2: 45.6 -> 32.2
  // ms; all of ResNet-18's layers: 840 -> 796 ms, 1 thread, CPU time).
  // Small images keep one parallel loop over (band, image, block), which
  // spreads batches of tiny maps over the threads. The epilogue stores
  // vectors of channels: a scatter into NCHW.
  const bool perImage = xfPerImage(g);
  y.split(co, coo, coi, f.cb)
      .split(oy, oyo, oyi, tl.TH, TailStrategy::ShiftInwards)
      .reorder(coi, ox, oyi, oyo, n, coo)
      .vectorize(coi, vec)
      .unroll(coi);
  if (perImage) {
    y.reorder(coi, ox, oyi, oyo, coo, n).fuse(oyo, coo, task);
    parallelizeOverImagesOrTasks(y, n, task, g);
  } else {
    // The images are in the task loop; tiny images at batch 1 stay on one
    // thread (see parallelizeOverImagesOrTasks).
    y.fuse(oyo, n, task).fuse(task, coo, task);
    if (imageFlops(g) >= kTinyImageFlops || (g.N != kDynamic && g.N >= 2))
      y.parallel(task);
    else if (g.N == kDynamic)
      y.specialize(y.output_buffer().dim(3).extent() >= 2).parallel(task);
  }
  // zc: the band's accumulators. Pure stage: the bias. Update: per chunk of
  // input channels (outermost), per register tile, add the chunk's partial
  // sums (convc, in registers). RoundUp (an update cannot recompute
  // overlapping tiles): tiles may run past the row end into garbage columns
  // and, on the last rows, into xf's slack.
  std::vector<Var> zv = zc.args(); // (coi, ox, oy, cob, n)
  Var xo("xo"), xi("xi"), yo("yo"), yi("yi");
  zc.compute_at(y, task).vectorize(zv[0], vec);
  zc.update()
      .split(zv[1], xo, xi, tl.tx, TailStrategy::RoundUp)
      .split(zv[2], yo, yi, tl.ty, TailStrategy::RoundUp)
      .reorder(zv[0], xi, yi, xo, yo, f.rk.x)
      .vectorize(zv[0], vec)
      .unroll(zv[0])
      .unroll(xi)
      .unroll(yi);
  std::vector<Var> cv = convc.args(); // (coi, ox, oy, cob, kc, n)
  convc.compute_at(zc, xo).vectorize(cv[0], vec).unroll(cv[0]).unroll(cv[1]).unroll(cv[2]);
  convc.update()
      .reorder(cv[0], cv[1], cv[2], f.r.x, f.r.y, f.r.z)
      .vectorize(cv[0], vec)
      .unroll(cv[0])
      .unroll(cv[1])
      .unroll(cv[2]);
  if (g.KW <= 7)
    convc.update().unroll(f.r.x);
  if (perImage)
    f.xf.compute_at(y, n);
  else // all images at once: the task loop runs over images inside blocks
    f.xf.compute_root();
}

} // namespace dnnc::kernels::gemmconv
