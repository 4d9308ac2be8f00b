// The per-example outcomes behind a metric that is a mean over examples, as the results database
// stores them: a (numerator, denominator) pair per example, so that the metric over any multiset
// of the examples is the sum of the numerators over the sum of the denominators (what the
// Multi-Bootstrap of Sellam et al. 2022 resamples). It does not decide which metrics have them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ablate::results {

// (numerator, denominator) per example, in the examples' order.
using ExampleOutcomes = std::vector<std::pair<double, double>>;

// The BLOB of example_outcomes.outcomes (schema v5): one format byte (1), the number of examples n
// as a little-endian uint32, then a zlib stream (RFC 1950) of the n numerators and then the n
// denominators as little-endian IEEE float64. Exact (NaN and infinities included), and small where
// it matters: a column of 0/1 correct counts or of equal denominators compresses to a few bits an
// example. Python: n = int.from_bytes(b[1:5], "little");
// numpy.frombuffer(zlib.decompress(b[5:]), "<f8").reshape(2, n).
std::string EncodeExampleOutcomes(const ExampleOutcomes& outcomes);

// The outcomes of a BLOB EncodeExampleOutcomes wrote. Throws InputError for anything else (another
// format byte from a newer ablate, a truncated or corrupt stream, a count that does not match).
ExampleOutcomes DecodeExampleOutcomes(std::string_view blob);

}  // namespace ablate::results
