// Helpers shared by the results tests: a per-test temporary directory and one-value SQL reads.
// Test code only; nothing here is part of ablate_results.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "results/sqlite.h"

namespace ablate::results::test {

// A fresh directory, removed with its contents when the test ends; each test gets its own, so
// tests may run in parallel.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ablate-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline int64_t QueryInt(const Connection& connection, const std::string& sql) {
  Statement statement = connection.Prepare(sql);
  if (!statement.Step()) throw std::runtime_error("no row from: " + sql);
  return statement.ColumnInt(0);
}

inline std::string QueryText(const Connection& connection, const std::string& sql) {
  Statement statement = connection.Prepare(sql);
  if (!statement.Step()) throw std::runtime_error("no row from: " + sql);
  return statement.ColumnText(0);
}

}  // namespace ablate::results::test
