// Report specs: parsed and validated, or refused with an InputError naming the JSON path.
#include <nlohmann/json.hpp>

#include "reports/report_spec.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto spec = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return 0;  // ReadReportSpec refuses text that is not JSON itself
  fuzz::RefusesCleanly([&] { reports::ParseReportSpec(spec, "report.json", fuzz::Scratch()); });
  return 0;
}
