#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "base/error.h"

namespace ablate {
namespace fs = std::filesystem;
namespace {

// The process's umask, read without changing it (umask(2) can only be read by setting it, which
// races with other threads creating files): Linux shows it in /proc/self/status since 4.7.
mode_t CurrentUmask() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Umask:", 0) == 0)
      return static_cast<mode_t>(std::strtoul(&line[6], nullptr, 8));
  }
  return 022;
}

// `pattern` as the writable, terminated buffer in which mkstemps and mkdtemp fill in the X's.
std::vector<char> Buffer(const std::string& pattern) {
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  return buffer;
}

}  // namespace

AtomicFile::AtomicFile(fs::path path) : path_(std::move(path)) {
  std::error_code ignored;
  if (fs::is_directory(path_, ignored))
    throw std::runtime_error("cannot write " + path_.string() + ": it is a directory");
  // A name ending in a separator ("out/") has no file name to put beside it.
  if (!path_.has_filename())
    throw std::runtime_error("cannot write " + path_.string() + ": not a file name");
  static constexpr std::string_view kSuffix = ".tmp";
  std::vector<char> name =
      Buffer((path_.parent_path() / (path_.filename().string() + ".XXXXXX" + std::string(kSuffix)))
                 .string());
  fd_ = ::mkostemps(name.data(), static_cast<int>(kSuffix.size()), O_CLOEXEC);
  if (fd_ < 0) {
    const int error = errno;
    throw std::runtime_error("cannot create a temporary file beside " + path_.string() + ": " +
                             std::strerror(error));
  }
  temporary_ = name.data();
  if (::fchmod(fd_, 0644 & ~CurrentUmask()) != 0) error_ = errno;
}

AtomicFile::~AtomicFile() {
  if (done_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temporary_.c_str());
}

void AtomicFile::Write(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  for (size_t done = 0; error_ == 0 && done < size;) {
    const ssize_t n = ::write(fd_, bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n < 0 ? errno : EIO;
    } else {
      done += static_cast<size_t>(n);
    }
  }
}

void AtomicFile::Commit() {
  ABLATE_CHECK(!done_, "AtomicFile::Commit called twice for " + path_.string());
  if (error_ == 0 && ::fsync(fd_) != 0) error_ = errno;
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0 && error_ == 0) error_ = errno;
  if (error_ != 0) Fail(error_);
  // rename(2) replaces a link planted at `path` itself, never what it points to.
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) Fail(errno);
  done_ = true;
}

void AtomicFile::Fail(int error) {
  ::unlink(temporary_.c_str());
  done_ = true;  // nothing is left for the destructor to remove
  throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(error));
}

void WriteFileAtomically(const fs::path& path, std::string_view text) {
  AtomicFile file(path);
  file.Write(text);
  file.Commit();
}

ScratchDirectory::ScratchDirectory(const fs::path& parent, std::string_view prefix) {
  std::vector<char> name = Buffer((parent / (std::string(prefix) + "XXXXXX")).string());
  if (::mkdtemp(name.data()) == nullptr) {
    const int error = errno;
    throw std::runtime_error("cannot create a scratch directory in " + parent.string() + ": " +
                             std::strerror(error));
  }
  path_ = name.data();
}

ScratchDirectory::~ScratchDirectory() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

}  // namespace ablate
