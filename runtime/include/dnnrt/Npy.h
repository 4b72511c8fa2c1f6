// Reading and writing NumPy .npy files, the format dnn-run takes inputs in
// and writes outputs to.
#pragma once

#include "dnnrt/Tensor.h"

#include <string>

namespace dnnrt {

/// Loads a .npy file (format version 1.0, 2.0 or 3.0) holding a C-order array
/// of dtype <f4, <f8, <i4, <i8, |u1 or |i1, converted to float. Messages start
/// with the path.
bool loadNpy(const std::string &path, Tensor &out, std::string &error);

/// Writes `tensor` as a version 1.0 <f4 .npy file whose data starts at a
/// multiple of 64 bytes. The write is atomic (see writeFileAtomically).
bool saveNpy(const std::string &path, const Tensor &tensor, std::string &error);

} // namespace dnnrt
