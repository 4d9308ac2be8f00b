// Splits a paragraph of English prose into sentences. Rule-based: a sentence ends at . ! ? or …
// (with any closing quotes or brackets after it) followed by whitespace and a capital, digit or
// opening quote, unless the word before a period is an abbreviation (Mr., Dr., St., e.g.) or an
// initial. It does not tokenize and never changes the text: sentences are substrings, trimmed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ablate::core {

std::vector<std::string_view> SplitSentences(std::string_view paragraph);

}  // namespace ablate::core
