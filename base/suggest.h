// "Did you mean ...?" hints for bad names in user input: the known names closest to a misspelt
// one by edit distance, and the phrase to append to an error message. It throws nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ablate {

// Levenshtein distance in bytes.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidates closest to `name` by edit distance (ties kept, at most three), counting only
// those that differ in at most a third of their characters.
std::vector<std::string> ClosestNames(std::string_view name,
                                      const std::vector<std::string>& candidates);

// " (did you mean \"a\"?)" or "" — ready to append to an error message.
std::string DidYouMean(const std::vector<std::string>& candidates);

}  // namespace ablate
