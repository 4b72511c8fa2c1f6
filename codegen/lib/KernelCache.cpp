//===- KernelCache.cpp - compiled kernels kept between runs -------------===//
#include "KernelCache.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <unistd.h>

using namespace dnnc::codegen;

namespace {

std::string sha256Hex(llvm::StringRef bytes) {
  llvm::SHA256 hasher;
  hasher.update(bytes);
  return llvm::toHex(hasher.final(), /*LowerCase=*/true);
}

/// Writes `bytes` to `path` through a unique temporary file and a rename, so
/// readers see the old entry, no entry or the whole new one.
bool writeAtomically(const std::string &path, llvm::StringRef bytes) {
  llvm::SmallString<256> temporary;
  int fd;
  if (llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%%%", fd, temporary))
    return false;
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out << bytes;
    out.flush();
    if (out.has_error()) {
      out.clear_error();
      llvm::sys::fs::remove(temporary);
      return false;
    }
    ::fsync(fd);
  }
  if (llvm::sys::fs::rename(temporary, path)) {
    llvm::sys::fs::remove(temporary);
    return false;
  }
  return true;
}

} // namespace

std::string dnnc::codegen::executableHash() {
  static const std::string hash = [] {
    std::string exe = llvm::sys::fs::getMainExecutable(nullptr, (void *)&executableHash);
    auto bytes = llvm::MemoryBuffer::getFile(exe);
    return bytes ? sha256Hex((*bytes)->getBuffer()) : std::string("unknown-build");
  }();
  return hash;
}

std::string KernelCache::defaultDirectory() {
  if (auto dir = llvm::sys::Process::GetEnv("DNNC_CACHE_DIR"))
    return *dir;
  llvm::SmallString<256> path;
  if (auto xdg = llvm::sys::Process::GetEnv("XDG_CACHE_HOME"); xdg && !xdg->empty())
    path = *xdg;
  else if (auto home = llvm::sys::Process::GetEnv("HOME"); home && !home->empty())
    llvm::sys::path::append(path, *home, ".cache");
  else
    return "";
  llvm::sys::path::append(path, "dnnc");
  return std::string(path);
}

KernelCache::KernelCache(std::string dir, std::string id)
    : directory(std::move(dir)), identity(std::move(id)) {
  if (!directory.empty() && llvm::sys::fs::create_directories(directory))
    directory.clear(); // not writable: compile without a cache
}

std::string KernelCache::shortHash(llvm::StringRef key) { return sha256Hex(key).substr(0, 12); }

std::string KernelCache::object(
    llvm::StringRef key, const std::string &fallbackPath,
    const std::function<bool(const std::string &, std::string &)> &compile, std::string &error) {
  if (!enabled()) {
    ++missCount;
    return compile(fallbackPath, error) ? fallbackPath : "";
  }
  std::string name = sha256Hex(identity + "\n" + key.str());
  llvm::SmallString<256> entry(directory), sum(directory);
  llvm::sys::path::append(entry, name + ".o");
  llvm::sys::path::append(sum, name + ".sha256");
  auto object = llvm::MemoryBuffer::getFile(entry);
  auto expected = llvm::MemoryBuffer::getFile(sum);
  if (object && expected && sha256Hex((*object)->getBuffer()) == (*expected)->getBuffer()) {
    ++hitCount;
    return std::string(entry);
  }
  ++missCount;
  if (!compile(fallbackPath, error))
    return "";
  auto compiled = llvm::MemoryBuffer::getFile(fallbackPath);
  // The object is in the work folder either way; a cache that cannot be
  // written only costs the next compile its time.
  if (compiled && writeAtomically(std::string(entry), (*compiled)->getBuffer()))
    writeAtomically(std::string(sum), sha256Hex((*compiled)->getBuffer()));
  return fallbackPath;
}
