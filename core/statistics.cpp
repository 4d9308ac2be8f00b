#include "core/statistics.h"

#include <algorithm>
#include <limits>

namespace ablate::core {

double Median(std::vector<double> values) { return MedianInPlace(values.data(), values.size()); }

double MedianInPlace(double* values, size_t n) {
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  std::nth_element(values, values + n / 2, values + n);
  const double upper = values[n / 2];
  if (n % 2 == 1) return upper;
  return (*std::max_element(values, values + n / 2) + upper) / 2;
}

}  // namespace ablate::core
