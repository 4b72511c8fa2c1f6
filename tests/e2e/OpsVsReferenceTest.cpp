// Every layer kind, compiled by dnnc on odd shapes (primes, 1-sized dims,
// extents below a vector) at -O0 and -O2, matches the reference evaluator at
// batch 1 and 3. A case is a small model around one layer kind and its
// attribute corners.
#include "E2ESupport.h"

#include <gtest/gtest.h>

namespace {

using namespace dnnc::e2e;

struct OpCase {
  const char *name;
  const char *body; // the statements of `model <name> { ... }`
  std::map<std::string, InputRange> inputs = {};
  double tolerance = kTolerance;
};

const OpCase kCases[] = {
    {"dense_rows", R"(
  input x: [N, 5, 7]
  a = dense(x, units=3, activation=gelu)
  b = dense(x, units=1, bias=false, activation=softplus)
  output a, b)"},
    {"activations", R"(
  input x: [N, 3, 5]
  a = sign(x)
  b = relu6(x)
  c = softplus(x)
  d = mish(x)
  e = elu(x, alpha=0.7)
  f = gelu(x)
  g = gelu(x, approximate=tanh)
  h = leaky_relu(x, alpha=0.2)
  i = sigmoid(x)
  j = tanh(x)
  k = relu(x)
  l = identity(x)
  output a, b, c, d, e, f, g, h, i, j, k, l)",
     {{"x", {-7.0, 7.0}}}},
    {"fused_activations", R"(
  input x: [N, 3, 6, 5]
  a = conv2d(x, filters=4, kernel=3, padding=same, activation=relu6)
  b = conv2d(x, filters=2, kernel=1, activation=elu, alpha=0.5)
  c = conv2d(x, filters=3, kernel=(1, 3), activation=mish)
  d = conv2d(x, filters=5, kernel=3, activation=gelu_tanh)
  e = conv2d(x, filters=1, kernel=2, activation=sign)
  f = conv2d(x, filters=2, kernel=3, activation=softplus)
  fl = flatten(x)
  g = dense(fl, units=7, activation=gelu)
  h = dense(fl, units=3, activation=softmax)
  output a, b, c, d, e, f, g, h)",
     {{"x", {-3.0, 3.0}}}},
    {"softmax_family", R"(
  input x: [N, 4, 6]
  a = softmax(x, axis=1)
  b = log_softmax(x)
  c = glu(x, axis=1)
  d = glu(x)
  output a, b, c, d)",
     {{"x", {-20.0, 20.0}}}},
    {"broadcasting", R"(
  input a: [N, 3, 5]
  input b: [N, 1, 5]
  input c: [N, 3, 1]
  s = add(a, b)
  d = sub(c, a)
  p = mul(b, c)
  output s, d, p)"},
    {"conv1d", R"(
  input x: [N, 3, 17]
  a = conv1d(x, filters=5, kernel=3, stride=2, padding=same, activation=relu)
  b = conv1d(x, filters=3, kernel=5, padding=(1, 2), dilation=2, groups=3, bias=false)
  c = conv1d(x, filters=1, kernel=1)
  output a, b, c)"},
    {"depthwise_and_groups", R"(
  input x: [N, 4, 9, 7]
  a = depthwise_conv2d(x, kernel=3, depth_multiplier=2, padding=same)
  b = depthwise_conv2d(x, kernel=(3, 1), stride=2, bias=false, activation=relu6)
  c = conv2d(x, filters=6, kernel=3, groups=2, padding=1, dilation=2)
  output a, b, c)"},
    {"separable_conv", R"(
  input x: [N, 3, 11, 13]
  a = separable_conv2d(x, filters=7, kernel=3, stride=2, padding=same, activation=relu6)
  b = separable_conv2d(x, filters=2, kernel=(3, 5), depth_multiplier=2, bias=false)
  c = separable_conv2d(x, filters=17, kernel=3, padding=1, dilation=2)
  output a, b, c)"},
    {"conv_transpose", R"(
  input x: [N, 4, 5, 7]
  a = conv_transpose2d(x, filters=3, kernel=4, stride=2, padding=1)
  b = conv_transpose2d(x, filters=2, kernel=3, stride=2, padding=same, bias=false)
  c = conv_transpose2d(x, filters=6, kernel=3, stride=2, padding=1, output_padding=1, groups=2)
  d = conv_transpose2d(x, filters=5, kernel=(2, 3), dilation=2, activation=tanh)
  e = conv_transpose2d(x, filters=1, kernel=1)
  output a, b, c, d, e)"},
    {"upsample", R"(
  input x: [N, 3, 5, 4]
  a = upsample2d(x)
  b = upsample2d(x, scale=(2, 3), mode=bilinear)
  c = upsample2d(x, scale=3, mode=bilinear)
  output a, b, c)"},
    {"pooling", R"(
  input s: [N, 3, 17]
  input x: [N, 2, 9, 7]
  a = maxpool1d(s, size=3, stride=2, padding=1)
  b = avgpool1d(s, size=2, padding=same, count_include_pad=true)
  c = avgpool1d(s, size=4, stride=3, padding=(1, 2))
  d = global_avgpool1d(s)
  e = global_maxpool1d(s)
  f = global_avgpool2d(x)
  g = global_maxpool2d(x)
  h = maxpool2d(x, size=(3, 2), stride=2, padding=1)
  i = avgpool2d(x, size=3, padding=same)
  output a, b, c, d, e, f, g, h, i)"},
    {"padding", R"(
  input s: [N, 3, 5]
  input x: [N, 2, 3, 4]
  a = zeropad1d(s, padding=(2, 1))
  b = zeropad2d(x, padding=(1, 2))
  c = zeropad2d(x, padding=(0, 1, 2, 3))
  output a, b, c)"},
    {"normalization", R"(
  input s: [N, 3, 7]
  input v: [N, 5]
  input x: [N, 2, 3, 4]
  a = batchnorm(s, epsilon=0.001)
  b = batchnorm(v)
  c = layernorm(x, dims=2)
  d = layernorm(s, affine=false)
  e = layernorm(x, dims=3, epsilon=0.01)
  output a, b, c, d, e)",
     {{"x", {-4.0, 4.0}}}},
    {"shape_ops", R"(
  input x: [N, 2, 3, 5]
  input y: [N, 2, 3, 5]
  t = transpose(x, perm=(0, 3, 1, 2))
  r = reshape(t, shape=(5, -1))
  f = flatten(x)
  c = concat(x, y, x, axis=2)
  c2 = concat(x, y, axis=-1)
  a, b = split(x, sizes=(1, 4), axis=3)
  p0, p1 = split(y, parts=2, axis=1)
  d = dropout(x, rate=0.3)
  output t, r, f, c, c2, a, b, p0, p1, d)"},
    {"matmul", R"(
  input a: [N, 3, 5]
  input b: [N, 5, 7]
  input c: [N, 7, 5]
  m = matmul(a, b)
  t = matmul(a, c, transpose_b=true)
  output m, t)"},
    {"embedding", R"(
  input ids: [N, 6]
  e = embedding(ids, num_embeddings=11, dim=5)
  d = dense(e, units=3)
  output e, d)",
     {{"ids", {0.0, 11.0, true}}}},
    {"lstm", R"(
  input x: [N, 6, 5]
  input h0: [N, 7]
  input c0: [N, 7]
  y = lstm(x, units=7)
  s = lstm(x, units=3, return_sequences=true, bias=false)
  z, h, c = lstm(x, h0, c0, units=7, return_state=true)
  output y, s, z, h, c)"},
    {"lstm_stacked_bidirectional", R"(
  input x: [N, 5, 4]
  input h0: [N, 4, 3]
  input c0: [N, 4, 3]
  y, h, c = lstm(x, h0, c0, units=3, layers=2, bidirectional=true, return_sequences=true,
                 return_state=true)
  last = lstm(x, units=2, bidirectional=true)
  output y, h, c, last)"},
    {"gru_and_rnn", R"(
  input x: [N, 7, 3]
  input h0: [N, 5]
  g = gru(x, units=5, return_sequences=true)
  gr, gh = gru(x, h0, units=5, bidirectional=false, return_state=true)
  b = gru(x, units=2, bidirectional=true, layers=2)
  r = rnn(x, units=4, activation=relu, bias=false, return_sequences=true)
  t = rnn(x, h0, units=5, bidirectional=false)
  one = rnn(x, units=1, layers=3)
  output g, gr, gh, b, r, t, one)"},
    {"single_step_sequence", R"(
  input x: [N, 1, 3]
  y = lstm(x, units=4, return_sequences=true)
  g = gru(x, units=2, bidirectional=true)
  output y, g)"},
    {"attention", R"(
  input q: [N, 4, 8]
  input kv: [N, 6, 8]
  input v: [N, 6, 3]
  a = attention(q, kv)
  b = attention(q, kv, v, scale=0.3)
  c = attention(q, q, causal=true)
  output a, b, c)"},
    {"multi_head_attention", R"(
  input x: [N, 5, 8]
  input kv: [N, 3, 8]
  a = multi_head_attention(x, heads=2, causal=true)
  b = multi_head_attention(x, kv, heads=4, bias=false)
  c = multi_head_attention(x, kv, kv, heads=1)
  output a, b, c)"},
    {"static_batch_sequence", R"(
  input x: [2, 4, 3]
  y = gru(x, units=3, bidirectional=true, return_sequences=true)
  a = multi_head_attention(y, heads=3)
  output a)"},
};

struct OpTest {
  const OpCase *c;
  const char *flags;
};

void PrintTo(const OpTest &t, std::ostream *os) { *os << t.c->name << " " << t.flags; }

class OpsVsReference : public ::testing::TestWithParam<OpTest> {};

TEST_P(OpsVsReference, Batch1And3) {
  const OpCase &c = *GetParam().c;
  std::string source = writeModel(c.name, std::string("model ") + c.name + " {" + c.body +
                                              "\n}\n");
  CompiledModel &m = compileModel(source, GetParam().flags);
  m.inputRanges = c.inputs;
  for (int64_t batch : {1, 3}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    checkAgainstReference(m, batch, c.tolerance);
  }
}

std::vector<OpTest> allTests() {
  std::vector<OpTest> tests;
  for (const OpCase &c : kCases)
    for (const char *flags : {"-O0", "-O2"})
      tests.push_back({&c, flags});
  return tests;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpsVsReference, ::testing::ValuesIn(allTests()),
                         [](const ::testing::TestParamInfo<OpTest> &info) {
                           return std::string(info.param.c->name) + "_" +
                                  (info.param.flags + 1); // O0, O2
                         });

} // namespace
