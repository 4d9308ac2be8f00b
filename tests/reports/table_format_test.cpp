#include "reports/table_format.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"

namespace rp = ablate::reports;
using ablate::results::ResultSet;
using ablate::results::Value;

namespace {

ResultSet Sample() {
  ResultSet s;
  s.columns = {"format", "ppl", "steps", "note"};
  s.rows.push_back({std::string("FULL-SENTENCES"), 3.68, int64_t{125000}, std::monostate{}});
  s.rows.push_back({std::string("DOC|SENT"), 0.0001, int64_t{31000}, std::string("a, \"b\"")});
  return s;
}

std::string Render(const ResultSet& s, rp::TableFormat f) {
  std::ostringstream out;
  rp::WriteTable(out, s, f);
  return out.str();
}

}  // namespace

TEST_CASE("aligned tables right-align numbers and left-align text", "[table]") {
  CHECK(Render(Sample(), rp::TableFormat::kTable) ==
        "format             ppl   steps  note\n"
        "--------------  ------  ------  ------\n"
        "FULL-SENTENCES    3.68  125000\n"
        "DOC|SENT        0.0001   31000  a, \"b\"\n");
}

TEST_CASE("CSV quotes fields per RFC 4180", "[table]") {
  CHECK(Render(Sample(), rp::TableFormat::kCsv) ==
        "format,ppl,steps,note\r\nFULL-SENTENCES,3.68,125000,\r\nDOC|SENT,0.0001,31000,\"a, "
        "\"\"b\"\"\"\r\n");
}

TEST_CASE("JSON keeps types and maps NULL and NaN to null", "[table]") {
  ResultSet s = Sample();
  s.rows[0][1] = std::nan("");
  auto parsed = nlohmann::json::parse(Render(s, rp::TableFormat::kJson));
  CHECK(parsed[0]["ppl"].is_null());
  CHECK(parsed[0]["note"].is_null());
  CHECK(parsed[0]["steps"] == 125000);
  CHECK(parsed[1]["ppl"] == 0.0001);
  CHECK(parsed[1]["note"] == "a, \"b\"");
}

TEST_CASE("markdown escapes pipes and right-aligns numeric columns", "[table]") {
  CHECK(Render(Sample(), rp::TableFormat::kMarkdown) ==
        "| format | ppl | steps | note |\n"
        "| --- | ---: | ---: | --- |\n"
        "| FULL-SENTENCES | 3.68 | 125000 |  |\n"
        "| DOC\\|SENT | 0.0001 | 31000 | a, \"b\" |\n");
}

TEST_CASE("unknown formats are bad input naming the option", "[table]") {
  CHECK(rp::ParseTableFormat("md", "--format") == rp::TableFormat::kMarkdown);
  CHECK_THROWS_WITH(rp::ParseTableFormat("yaml", "--format"),
                    "--format: unknown format \"yaml\": expected table, csv, json or markdown");
}
