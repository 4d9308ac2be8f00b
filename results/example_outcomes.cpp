#include "results/example_outcomes.h"

#include <zlib.h>

#include <bit>
#include <cstdint>

#include "base/error.h"

namespace ablate::results {
namespace {

constexpr unsigned char kFormat = 1;
constexpr size_t kHeaderBytes = 5;  // format, count
// Deflate expands at most about 1032 times, so a count that claims more is a corrupt header, and
// decoding does not allocate what it says.
constexpr uint64_t kMaxExpansion = 1100;

void PutLittleEndian(uint64_t value, int bytes, std::string& out) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetLittleEndian(std::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return value;
}

[[noreturn]] void Corrupt(const std::string& what) {
  throw InputError("", "", "stored example outcomes are unreadable: " + what);
}

}  // namespace

std::string EncodeExampleOutcomes(const ExampleOutcomes& outcomes) {
  ABLATE_CHECK(outcomes.size() <= UINT32_MAX, "too many example outcomes for one record");
  // Numerators, then denominators: like values side by side compress better than pairs.
  std::string raw;
  raw.reserve(16 * outcomes.size());
  for (const auto& [numerator, denominator] : outcomes)
    PutLittleEndian(std::bit_cast<uint64_t>(numerator), 8, raw);
  for (const auto& [numerator, denominator] : outcomes)
    PutLittleEndian(std::bit_cast<uint64_t>(denominator), 8, raw);
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out;
  out.push_back(static_cast<char>(kFormat));
  PutLittleEndian(outcomes.size(), 4, out);
  out.resize(kHeaderBytes + size);
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data() + kHeaderBytes), &size,
                           reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION);
  ABLATE_CHECK(rc == Z_OK,
               "zlib cannot compress example outcomes (error " + std::to_string(rc) + ")");
  out.resize(kHeaderBytes + size);
  return out;
}

ExampleOutcomes DecodeExampleOutcomes(std::string_view blob) {
  if (blob.size() < kHeaderBytes) Corrupt(std::to_string(blob.size()) + " bytes");
  if (static_cast<unsigned char>(blob[0]) != kFormat) {
    Corrupt("format " + std::to_string(static_cast<unsigned char>(blob[0])) +
            " (this ablate reads format " + std::to_string(kFormat) + ")");
  }
  const uint64_t count = GetLittleEndian(blob, 1, 4);
  const std::string_view stream = blob.substr(kHeaderBytes);
  if (16 * count > kMaxExpansion * stream.size() + 64) {
    Corrupt(std::to_string(count) + " examples in " + std::to_string(stream.size()) + " bytes");
  }
  std::string raw(16 * count, '\0');
  uLongf size = static_cast<uLongf>(raw.size());
  const int rc =
      uncompress(reinterpret_cast<Bytef*>(raw.data()), &size,
                 reinterpret_cast<const Bytef*>(stream.data()), static_cast<uLong>(stream.size()));
  if (rc != Z_OK || size != raw.size()) {
    Corrupt(rc == Z_OK ? "fewer values than the " + std::to_string(count) + " examples it names"
                       : "zlib error " + std::to_string(rc));
  }
  ExampleOutcomes outcomes(count);
  for (size_t i = 0; i < count; ++i) {
    outcomes[i] = {std::bit_cast<double>(GetLittleEndian(raw, 8 * i, 8)),
                   std::bit_cast<double>(GetLittleEndian(raw, 8 * (count + i), 8))};
  }
  return outcomes;
}

}  // namespace ablate::results
