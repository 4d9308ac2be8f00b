// Order statistics shared by fine-tuning (medians over seeds) and reports (medians over runs).
// Plain functions of numbers; nothing here knows where the numbers come from.
#pragma once

#include <cstddef>
#include <vector>

namespace ablate::core {

// The median of `values` (the mean of the middle two for an even count); NaN when empty.
double Median(std::vector<double> values);

// The same for values[0, n), which it reorders (no copy); NaN when n == 0.
double MedianInPlace(double* values, size_t n);

}  // namespace ablate::core
