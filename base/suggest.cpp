#include "base/suggest.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/list_text.h"

namespace ablate {
namespace {

std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::vector<std::string> ClosestNames(std::string_view name,
                                      const std::vector<std::string>& candidates) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& candidate : candidates) {
    size_t distance = EditDistance(name, candidate);
    if (distance * 3 <= std::max(name.size(), candidate.size()))
      scored.emplace_back(distance, candidate);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [distance, candidate] : scored) {
    if (distance != scored.front().first || out.size() == 3) break;
    out.push_back(candidate);
  }
  return out;
}

std::string DidYouMean(const std::vector<std::string>& candidates) {
  if (candidates.empty()) return "";
  std::vector<std::string> quoted;
  for (const auto& candidate : candidates) quoted.push_back(Quote(candidate));
  return " (did you mean " + OrList(quoted) + "?)";
}

}  // namespace ablate
