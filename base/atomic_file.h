// Writing a file so that readers see the old content or the new, never half of it: the bytes go to
// a temporary file created beside it (O_EXCL under an unpredictable name, so never through a
// planted link), which is synced and renamed over it, and removed on every failure. Also a scratch
// directory removed with its contents. Neither locks: of two writers of one path, the last wins.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace ablate {

// One atomic write, for callers that produce the bytes piece by piece:
//   AtomicFile file(path);  file.Write(...);  ...;  file.Commit();
// The temporary is `<name>.XXXXXX.tmp` in `path`'s directory (mkstemps), with the mode a plain
// open(2) would give (0644 less the umask). Destroyed without a successful Commit(), it removes
// the temporary and leaves `path` as it was.
class AtomicFile {
 public:
  // Throws std::runtime_error naming `path` when it is a directory or the temporary cannot be
  // created there.
  explicit AtomicFile(std::filesystem::path path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Appends `size` bytes. Never throws, so that writers which must not throw (LibTorch's archive
  // callback) can use it: the first error is kept, later writes are skipped, and Commit() throws
  // it.
  void Write(const void* data, size_t size);
  void Write(std::string_view text) { Write(text.data(), text.size()); }

  // Syncs the temporary (so that a crash leaves the old file or the whole new one), closes it and
  // renames it over `path`. Throws std::runtime_error naming `path` and the cause, after removing
  // the temporary, when a write, the sync or the rename failed.
  void Commit();

  const std::filesystem::path& temporary() const { return temporary_; }

 private:
  [[noreturn]] void Fail(int error);

  std::filesystem::path path_, temporary_;
  int fd_ = -1;
  int error_ = 0;
  bool done_ = false;  // committed, or its temporary already removed
};

// Writes `text` to `path` through an AtomicFile. Throws std::runtime_error naming `path` when it
// cannot be written (a directory, a full disk, no permission), leaving `path` as it was and no
// temporary behind.
void WriteFileAtomically(const std::filesystem::path& path, std::string_view text);

// A fresh directory `<parent>/<prefix>XXXXXX` (mkdtemp: mode 0700, a name nobody could plant),
// removed with its contents when the object goes.
class ScratchDirectory {
 public:
  // Throws std::runtime_error naming `parent` when it cannot be created there.
  ScratchDirectory(const std::filesystem::path& parent, std::string_view prefix);
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ~ScratchDirectory();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ablate
