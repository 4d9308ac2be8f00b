// Helpers shared by the results tests: a per-test temporary directory and one-value SQL reads.
// Test code only; nothing here is part of ablate_results.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "results/sqlite.h"
#include "tests/support.h"

namespace ablate::results::test {

using ablate::test::TempDir;

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
