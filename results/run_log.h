// A run's own record log: an append-only file in its run directory that a run trained away from
// the database (a Slurm task) writes instead, and that `ablate collect` reads into the database on
// the head. One JSON record per line, each behind the CRC-32 of its text, so a record torn by a
// crash is recognized and skipped, never misread. One writer, no locks. It knows no SQL
// (collect.h applies the records).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ablate::results {

// The file name of the log inside a run directory.
inline constexpr const char* kRunLogName = "records.log";

class RunLogWriter {
 public:
  // Opens for appending (created if missing). A file that ends inside a record (the last writer
  // died mid-write) gets a line end first, so that record stays a bad line of its own.
  explicit RunLogWriter(std::filesystem::path path);
  RunLogWriter(const RunLogWriter&) = delete;
  RunLogWriter& operator=(const RunLogWriter&) = delete;
  ~RunLogWriter();  // flushes; never throws

  // Buffers one record (a JSON object).
  void Append(const nlohmann::json& record);
  // Writes the buffered records in one write and syncs them to disk. Throws std::runtime_error
  // naming the file when it cannot (disk full, ...); the records stay buffered for a retry.
  void Flush();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::string buffer_;
};

struct RunLogRead {
  std::vector<nlohmann::json> records;  // in file order
  uint64_t end = 0;  // offset after the last complete line read: where the next read starts
  int skipped = 0;   // complete lines that failed their checksum (torn by a crash) and were left
};

// The complete records from byte `offset` on. An incomplete last line (being written, or torn at
// the end of the file) is not read: `end` stays before it. A file that does not exist reads as
// empty. Throws InputError naming the file when `offset` is past its end.
RunLogRead ReadRunLog(const std::filesystem::path& path, uint64_t offset);

// One line of the log: CRC-32 of the JSON text (8 hex digits), a space, the text, a line end.
std::string RunLogLine(const nlohmann::json& record);

}  // namespace ablate::results
