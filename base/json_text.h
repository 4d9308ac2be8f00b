// Parsing of JSON that a user wrote (grids, report specs, run configs): a syntax error becomes an
// InputError naming the file with the line and column where parsing stopped. It does not validate
// what the JSON means.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ablate {

// Key order is kept, so errors and outputs follow the user's file. Throws InputError with source
// "SOURCE:LINE:COLUMN" for malformed JSON.
nlohmann::ordered_json ParseJsonText(const std::string& text, const std::string& source);

// Reads and parses a file; a missing or unreadable file is an InputError too.
nlohmann::ordered_json ReadJsonFile(const std::string& path);

}  // namespace ablate
