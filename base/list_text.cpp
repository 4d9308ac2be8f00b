#include "base/list_text.h"

namespace ablate {

std::string_view TrimSpace(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::vector<std::string_view> CommaList(std::string_view text) {
  std::vector<std::string_view> entries;
  if (TrimSpace(text).empty()) return entries;
  while (true) {
    const size_t comma = text.find(',');
    entries.push_back(TrimSpace(text.substr(0, comma)));
    if (comma == std::string_view::npos) return entries;
    text.remove_prefix(comma + 1);
  }
}

std::string OrList(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += items[i];
  }
  return out;
}

}  // namespace ablate
