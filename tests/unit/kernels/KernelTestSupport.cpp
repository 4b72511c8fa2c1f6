#include "KernelTestSupport.h"

#include <cstdlib>
#include <map>
#include <random>

namespace dnnc::kernels::test {

using Halide::Buffer;

Halide::Target host() {
  const char *forced = std::getenv("DNNKERNELS_TEST_TARGET");
  return forced && *forced ? Halide::Target(forced) : Halide::get_host_target();
}

dnnref::Tensor randomTensor(const std::vector<int64_t> &shape, unsigned seed, double lo,
                            double hi) {
  dnnref::Tensor t(shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(static_cast<float>(lo), static_cast<float>(hi));
  for (double &v : t.data)
    v = dist(gen);
  return t;
}

namespace {

std::vector<int> halideSizes(const std::vector<int64_t> &shape) {
  return std::vector<int>(shape.rbegin(), shape.rend());
}

Buffer<float> toBuffer(const dnnref::Tensor &t) {
  Buffer<float> b(halideSizes(t.shape)); // dense, dim 0 = last IR dim
  float *p = b.data();
  for (size_t i = 0; i < t.data.size(); ++i)
    p[i] = static_cast<float>(t.data[i]);
  return b;
}

// The kernels only hand out Halide::Arguments; the JIT binds buffers to the
// underlying Parameters, found by name in the pipeline's definitions.
std::map<std::string, Halide::Internal::Parameter> findParams(const Halide::Pipeline &p) {
  struct Finder : Halide::Internal::IRGraphVisitor {
    std::map<std::string, Halide::Internal::Parameter> found;
    using IRGraphVisitor::visit;
    void visit(const Halide::Internal::Call *c) override {
      if (c->param.defined())
        found[c->param.name()] = c->param;
      IRGraphVisitor::visit(c);
    }
    void visit(const Halide::Internal::Variable *v) override {
      if (v->param.defined())
        found[v->param.name()] = v->param;
    }
  } finder;
  for (Halide::Func f : p.outputs()) {
    f.function().accept(&finder);
    for (auto &kv : Halide::Internal::find_transitive_calls(f.function()))
      kv.second.accept(&finder);
  }
  return finder.found;
}

} // namespace

std::vector<std::vector<float>> runOutputs(Kernel k,
                                           const std::vector<const dnnref::Tensor *> &inputs,
                                           const std::vector<std::vector<int64_t>> &outShapes) {
  EXPECT_EQ(k.arguments.size(), inputs.size());
  auto params = findParams(k.pipeline);
  std::vector<Buffer<float>> buffers;
  buffers.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size() && i < k.arguments.size(); ++i) {
    buffers.push_back(toBuffer(*inputs[i]));
    EXPECT_TRUE(k.arguments[i].is_buffer());
    auto it = params.find(k.arguments[i].name);
    if (it == params.end()) {
      ADD_FAILURE() << "argument " << k.arguments[i].name << " not used by the pipeline";
      return {};
    }
    it->second.set_buffer(buffers.back());
  }
  std::vector<Buffer<float>> outs;
  for (const auto &shape : outShapes)
    outs.emplace_back(halideSizes(shape));
  std::vector<Halide::Buffer<>> targets(outs.begin(), outs.end());
  k.pipeline.realize(Halide::Realization(targets), host());
  std::vector<std::vector<float>> result;
  for (const Buffer<float> &out : outs)
    result.emplace_back(out.data(), out.data() + out.number_of_elements());
  return result;
}

std::vector<float> run(Kernel k, const std::vector<const dnnref::Tensor *> &inputs,
                       const std::vector<int64_t> &outShape) {
  auto outs = runOutputs(std::move(k), inputs, {outShape});
  return outs.empty() ? std::vector<float>{} : outs[0];
}

void expectClose(const std::vector<float> &actual, const dnnref::Tensor &ref, double tolerance) {
  ASSERT_EQ(static_cast<int64_t>(actual.size()), ref.numel());
  dnnref::Comparison c = dnnref::compare(actual, ref);
  EXPECT_LE(c.relError, tolerance) << dnnref::describe(c);
}

std::vector<int64_t> withBatch(std::vector<int64_t> s, bool dynamic) {
  if (dynamic)
    s[0] = kDynamic;
  return s;
}

} // namespace dnnc::kernels::test
