// Parsing of JSON that a user wrote (grids, report specs, run configs): a syntax error becomes an
// InputError naming the file with the line and column where parsing stopped. It does not validate
// what the JSON means.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ablate {

// Key order is kept, so errors and outputs follow the user's file. Throws InputError with source
// "SOURCE:LINE:COLUMN" for malformed JSON.
nlohmann::ordered_json ParseJsonText(const std::string& text, const std::string& source);

// Reads and parses a file; a missing or unreadable file is an InputError too.
nlohmann::ordered_json ReadJsonFile(const std::string& path);

// A JSON integer that fits in T, else nullopt (a float, a string, a value out of T's range).
// nlohmann's own get<T>() casts a float to an integer, which is undefined beyond T's range.
template <typename T, typename Json>
std::optional<T> JsonInteger(const Json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.template get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(u);
  }
  if (!v.is_number_integer()) return std::nullopt;
  const int64_t i = v.template get<int64_t>();
  if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      (i > 0 && static_cast<uint64_t>(i) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
    return std::nullopt;
  return static_cast<T>(i);
}

}  // namespace ablate
