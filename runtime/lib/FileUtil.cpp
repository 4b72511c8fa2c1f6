#include "dnnrt/FileUtil.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dnnrt {
namespace {

/// "<path>: <what>: <strerror(errorNumber)>"; callers pass errno as saved
/// right after the failing call, since building strings may change it.
std::string systemError(const std::string &path, const std::string &what,
                        int errorNumber) {
  return path + ": " + what + ": " + std::strerror(errorNumber);
}

/// Closes a file descriptor when it goes out of scope.
class FdCloser {
public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  FdCloser(const FdCloser &) = delete;
  FdCloser &operator=(const FdCloser &) = delete;
  /// Closes now and reports whether close succeeded (it can report a
  /// delayed write error).
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

private:
  int fd_;
};

bool writeAll(int fd, const void *data, size_t size) {
  const char *bytes = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

} // namespace

bool readWholeFile(const std::string &path, std::string &bytes,
                   std::string &error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = systemError(path, "cannot open", errno);
    return false;
  }
  FdCloser closer(fd);
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    error = systemError(path, "cannot stat", errno);
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    error = path + ": not a regular file";
    return false;
  }
  bytes.resize(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::read(fd, &bytes[done], bytes.size() - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      error = systemError(path, "read failed", errno);
      return false;
    }
    if (got == 0)
      break; // The file shrank while we read it; keep what is there.
    done += static_cast<size_t>(got);
  }
  bytes.resize(done);
  return true;
}

bool writeFileAtomically(const std::string &path,
                         const std::vector<ByteSpan> &pieces,
                         std::string &error) {
  std::string tempPath = path + ".tmp." + std::to_string(::getpid());
  int fd =
      ::open(tempPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int openErrno = errno;
    error = systemError(path, "cannot create temp file '" + tempPath + "'",
                        openErrno);
    return false;
  }
  FdCloser closer(fd);
  const char *failure = nullptr;
  for (const ByteSpan &piece : pieces) {
    if (!writeAll(fd, piece.data, piece.size)) {
      failure = "write failed";
      break;
    }
  }
  if (!failure && ::fsync(fd) != 0)
    failure = "fsync failed";
  if (!failure && !closer.close())
    failure = "close failed";
  if (!failure && ::rename(tempPath.c_str(), path.c_str()) != 0)
    failure = "cannot rename temp file over it";
  if (!failure)
    return true;
  int failureErrno = errno;
  ::unlink(tempPath.c_str());
  error = systemError(path, failure, failureErrno);
  return false;
}

} // namespace dnnrt
