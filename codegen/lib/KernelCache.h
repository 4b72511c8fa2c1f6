//===- KernelCache.h - compiled kernels kept between runs -------*- C++ -*-===//
//
// Objects are keyed by the kernel's key (role, op signature, layouts), the
// target and the identity of the dnnc build that generated them, so an
// unchanged model recompiles without running Halide. Entries are written to
// a temporary file and renamed into place (concurrent compiles never see a
// partial entry) and carry a SHA-256 of their bytes, checked on every use (a
// corrupt entry is compiled again and replaced).
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_CODEGEN_KERNELCACHE_H
#define DNNC_CODEGEN_KERNELCACHE_H

#include "llvm/ADT/StringRef.h"

#include <functional>
#include <string>

namespace dnnc::codegen {

class KernelCache {
public:
  /// $DNNC_CACHE_DIR, else $XDG_CACHE_HOME/dnnc, else $HOME/.cache/dnnc.
  static std::string defaultDirectory();

  /// An empty `directory` disables caching. `identity` names the generator
  /// (the dnnc build and target): entries of another identity never match.
  KernelCache(std::string directory, std::string identity);

  bool enabled() const { return !directory.empty(); }

  /// The object file of `key`: a valid cached entry, or what `compile`
  /// writes to the path it is given (then stored in the cache). Without a
  /// usable cache the object is compiled to `fallbackPath`. Returns "" and
  /// sets `error` when compiling fails.
  std::string object(llvm::StringRef key, const std::string &fallbackPath,
                     const std::function<bool(const std::string &path, std::string &error)> &compile,
                     std::string &error);

  /// A short stable name for `key`, for symbols: 12 hex digits of its hash.
  static std::string shortHash(llvm::StringRef key);

  int hits() const { return hitCount; }
  int misses() const { return missCount; }

private:
  std::string directory;
  std::string identity;
  int hitCount = 0, missCount = 0;
};

/// SHA-256 of this executable's bytes: the identity of the dnnc build.
std::string executableHash();

} // namespace dnnc::codegen

#endif // DNNC_CODEGEN_KERNELCACHE_H
