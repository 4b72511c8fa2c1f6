#include "dnnrt/Init.h"

#include <cstdlib>
#include <sstream>

namespace dnnrt {
namespace {

/// splitmix64: tiny, seedable, and identical on every platform.
uint64_t splitmix(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string &text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text)
    hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

} // namespace

bool parseWeightInit(const std::string &text, WeightInit &out) {
  std::istringstream in(text);
  std::string kind;
  double value;
  if (!(in >> kind >> value) || (kind != "uniform" && kind != "constant"))
    return false;
  out.kind = kind == "uniform" ? WeightInit::Kind::Uniform : WeightInit::Kind::Constant;
  out.value = value;
  return true;
}

void fillInitialWeight(const WeightInit &rule, const std::string &name, uint64_t seed,
                       float *data, size_t count) {
  if (rule.kind == WeightInit::Kind::Constant) {
    for (size_t i = 0; i < count; ++i)
      data[i] = static_cast<float>(rule.value);
    return;
  }
  uint64_t state = seed ^ fnv1a(name);
  for (size_t i = 0; i < count; ++i) {
    double unit = double(splitmix(state) >> 11) * (1.0 / 9007199254740992.0);
    data[i] = static_cast<float>((2.0 * unit - 1.0) * rule.value);
  }
}

} // namespace dnnrt
