#include "results/run_log.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "base/error.h"

namespace ablate::results {

namespace fs = std::filesystem;

namespace {

uint32_t Crc(std::string_view text) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
}

[[noreturn]] void Fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error(path.string() + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

std::string RunLogLine(const nlohmann::json& record) {
  const std::string text = record.dump();
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", Crc(text));
  return std::string(crc) + " " + text + "\n";
}

RunLogWriter::RunLogWriter(fs::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) Fail(path_, "cannot open the run's record log");
  const off_t size = ::lseek(fd_, 0, SEEK_END);
  if (size > 0) {
    char last = '\n';
    const int reader = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (reader >= 0) {
      if (::pread(reader, &last, 1, size - 1) != 1) last = '\n';
      ::close(reader);
    }
    if (last != '\n') buffer_ = "\n";
  }
}

RunLogWriter::~RunLogWriter() {
  try {
    Flush();
  } catch (const std::exception& e) {
    std::cerr << "ablate: " << e.what() << " (" << buffer_.size() << " bytes of records lost)\n";
  }
  if (fd_ >= 0) ::close(fd_);
}

void RunLogWriter::Append(const nlohmann::json& record) { buffer_ += RunLogLine(record); }

void RunLogWriter::Flush() {
  if (buffer_.empty()) return;
  size_t written = 0;
  while (written < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // What was written stays (a torn line the reader skips); the rest is retried whole.
      buffer_.erase(0, written);
      if (written > 0) buffer_.insert(0, "\n");
      Fail(path_, "cannot write the run's record log");
    }
    written += static_cast<size_t>(n);
  }
  buffer_.clear();
  if (::fdatasync(fd_) != 0 && errno != EINVAL) Fail(path_, "cannot sync the run's record log");
}

RunLogRead ReadRunLog(const fs::path& path, uint64_t offset) {
  RunLogRead read;
  read.end = offset;
  std::ifstream in(path, std::ios::binary);
  if (!in) return read;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  if (offset > size) {
    throw InputError(path.string(), "",
                     "the database says " + std::to_string(offset) +
                         " bytes of this record log were collected, but it holds " +
                         std::to_string(size) + ": it was replaced or truncated");
  }
  in.seekg(static_cast<std::streamoff>(offset));
  std::string text(size - offset, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  size_t begin = 0;
  while (true) {
    const size_t newline = text.find('\n', begin);
    if (newline == std::string::npos) break;  // incomplete: written now, or torn at the end
    const std::string_view line(text.data() + begin, newline - begin);
    begin = newline + 1;
    read.end = offset + begin;
    if (line.empty()) continue;  // the line end a writer adds after a torn record
    bool ok = line.size() > 9 && line[8] == ' ';
    if (ok) {
      const std::string_view body = line.substr(9);
      char crc[9];
      std::snprintf(crc, sizeof crc, "%08x", Crc(body));
      ok = line.substr(0, 8) == crc;
      if (ok) {
        auto record = nlohmann::json::parse(body, nullptr, false);
        ok = record.is_object();
        if (ok) read.records.push_back(std::move(record));
      }
    }
    if (!ok) ++read.skipped;
  }
  return read;
}

}  // namespace ablate::results
