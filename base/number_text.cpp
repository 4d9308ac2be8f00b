#include "base/number_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace ablate {

std::string ShortestText(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general);
  return std::string(buf, end);
}

std::string SiText(double x) {
  static const char* const kSuffixes[] = {"", "k", "M", "G", "T", "P", "E"};
  int power = 0;
  while (std::abs(x) >= 999.5 && power < 6) {
    x /= 1000;
    ++power;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g%s", x, kSuffixes[power]);
  return buf;
}

}  // namespace ablate
