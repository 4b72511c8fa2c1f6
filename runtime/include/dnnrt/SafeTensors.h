// Reading and writing .safetensors files (the Hugging Face format PyTorch
// users save state_dicts in): an 8-byte little-endian header length, a JSON
// header {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {..}},
// then the raw tensor bytes.
#pragma once

#include "dnnrt/Tensor.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace dnnrt {

/// Loads every tensor of a safetensors file, in header order, converting
/// F32/F64/F16/BF16 data to float. Fails on any other dtype and on any
/// inconsistency in the file; messages start with the path.
bool loadSafetensors(const std::string &path, std::vector<NamedTensor> &out,
                     std::string &error);

/// Like loadSafetensors, but reads only the tensors for which `wanted(name)`
/// is true. The others are still validated but may have any dtype, so that a
/// state_dict's integer buffers (e.g. num_batches_tracked) do not get in the
/// way.
/// With `metadata`, the file's "__metadata__" strings are stored there too.
bool loadSafetensors(const std::string &path,
                     const std::function<bool(const std::string &)> &wanted,
                     std::vector<NamedTensor> &out, std::string &error,
                     std::map<std::string, std::string> *metadata = nullptr);

/// Writes `tensors` as F32, in the given order, with `metadata` as the
/// "__metadata__" entry (omitted when empty). The write is atomic (see
/// writeFileAtomically).
bool saveSafetensors(const std::string &path,
                     const std::vector<NamedTensor> &tensors,
                     const std::map<std::string, std::string> &metadata,
                     std::string &error);

} // namespace dnnrt
