// Initial weights: the rule the compiler recorded per weight, sampled from
// a generator seeded by (seed, weight name), so a weight's values do not
// depend on the order or number of the model's other weights.
#pragma once

#include "dnnrt/Manifest.h"

#include <cstdint>
#include <string>

namespace dnnrt {

/// Parses "uniform <limit>" or "constant <value>"; false if malformed.
bool parseWeightInit(const std::string &text, WeightInit &out);

/// Fills `count` floats of weight `name` by its rule.
void fillInitialWeight(const WeightInit &rule, const std::string &name, uint64_t seed,
                       float *data, size_t count);

} // namespace dnnrt
