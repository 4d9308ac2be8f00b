#include "core/number_text.h"

#include <charconv>
#include <cmath>

namespace ablate {

std::string ShortestText(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general);
  return std::string(buf, end);
}

}  // namespace ablate
