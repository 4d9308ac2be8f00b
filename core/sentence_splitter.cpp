#include "core/sentence_splitter.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace ablate::core {
namespace {

// Lower-cased words that end in a period without ending a sentence when a name or a number
// follows. Titles and common Latin abbreviations of 19th/20th-century prose.
constexpr std::array<std::string_view, 44> kAbbreviations = {
    "mr",  "mrs", "ms",   "messrs", "dr",  "st",  "jr",  "sr",  "prof", "rev",  "hon",
    "gen", "col", "capt", "lt",     "sgt", "maj", "gov", "sen", "rep",  "pres", "supt",
    "esq", "mme", "mlle", "mt",     "ft",  "no",  "nos", "vol", "vols", "p",    "pp",
    "ch",  "fig", "vs",   "cf",     "viz", "etc", "e.g", "i.e", "a.m",  "p.m",  "co"};

// "etc." often ends a sentence; these abbreviations only stay joined when a name, number or
// lower-case word follows, so a capital after "etc." still splits.
constexpr std::array<std::string_view, 3> kWeakAbbreviations = {"etc", "co", "no"};

bool IsSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// UTF-8 sequences of quotes and brackets that may close a sentence after its final punctuation.
size_t ClosingMarkLength(std::string_view s, size_t i) {
  unsigned char c = s[i];
  if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}') return 1;
  // ’ ” » (U+2019, U+201D, U+00BB)
  if (s.substr(i, 3) == "\u2019" || s.substr(i, 3) == "\u201d") return 3;
  if (s.substr(i, 2) == "\u00bb") return 2;
  return 0;
}

// Whether text at i can begin a new sentence: a capital, a digit, an opening quote or bracket,
// or a non-ASCII letter (treated as capital: accented initials are rare in lower case here).
bool CanStartSentence(std::string_view s, size_t i) {
  unsigned char c = s[i];
  if (std::isupper(c) || std::isdigit(c)) return true;
  if (c == '"' || c == '\'' || c == '(' || c == '[' || c == '`') return true;
  if (s.substr(i, 3) == "\u201c" || s.substr(i, 3) == "\u2018" || s.substr(i, 2) == "\u00ab") {
    return true;
  }
  return c >= 0xC3 && c <= 0xDF;  // Latin-1 Supplement and Latin Extended capitals
}

// The word ending just before the period at `dot`, lower-cased (letters and inner periods).
std::string WordBefore(std::string_view s, size_t dot) {
  size_t start = dot;
  while (start > 0 &&
         (std::isalpha(static_cast<unsigned char>(s[start - 1])) || s[start - 1] == '.')) {
    --start;
  }
  std::string word(s.substr(start, dot - start));
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return word;
}

bool IsInitial(std::string_view s, size_t dot) {
  // "J. Smith", "U.S. Army": one capital letter before the period.
  return dot >= 1 && std::isupper(static_cast<unsigned char>(s[dot - 1])) &&
         (dot == 1 || !std::isalpha(static_cast<unsigned char>(s[dot - 2])));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::vector<std::string_view> SplitSentences(std::string_view text) {
  std::vector<std::string_view> sentences;
  size_t start = 0;
  size_t i = 0;
  while (i < text.size()) {
    bool ellipsis = text.substr(i, 3) == "\u2026";
    char c = text[i];
    if (c != '.' && c != '!' && c != '?' && !ellipsis) {
      ++i;
      continue;
    }
    size_t end = i + (ellipsis ? 3 : 1);
    // A run of terminators ("?!", "...") and then closing quotes/brackets belong to the sentence.
    while (end < text.size() && (text[end] == '.' || text[end] == '!' || text[end] == '?')) ++end;
    while (end < text.size()) {
      size_t n = ClosingMarkLength(text, end);
      if (n == 0) break;
      end += n;
    }
    size_t next = end;
    while (next < text.size() && IsSpace(text[next])) ++next;
    bool boundary = next > end && next < text.size() && CanStartSentence(text, next);
    bool single_period = c == '.' && !ellipsis && (i + 1 == text.size() || text[i + 1] != '.');
    if (boundary && single_period) {
      std::string word = WordBefore(text, i);
      bool abbreviation =
          std::find(kAbbreviations.begin(), kAbbreviations.end(), word) != kAbbreviations.end();
      bool weak = std::find(kWeakAbbreviations.begin(), kWeakAbbreviations.end(), word) !=
                  kWeakAbbreviations.end();
      // "No. 5" and "St. Paul" continue; "etc. The" ends a sentence.
      if (abbreviation && !(weak && !std::isdigit(static_cast<unsigned char>(text[next])))) {
        boundary = false;
      }
      if (IsInitial(text, i)) boundary = false;
    }
    if (boundary) {
      auto sentence = Trim(text.substr(start, end - start));
      if (!sentence.empty()) sentences.push_back(sentence);
      start = next;
    }
    i = end;
  }
  auto rest = Trim(text.substr(start));
  if (!rest.empty()) sentences.push_back(rest);
  return sentences;
}

}  // namespace ablate::core
