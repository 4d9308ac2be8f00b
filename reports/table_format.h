// Renders a result set (column names + rows of typed cells) as an aligned text table, CSV, JSON
// or a GitHub-flavoured markdown table. Formatting only: no SQL, no aggregation.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "results/query.h"

namespace ablate::reports {

enum class TableFormat { kTable, kCsv, kJson, kMarkdown };

// "table", "csv", "json", "markdown"; throws InputError naming `option` otherwise.
TableFormat ParseTableFormat(std::string_view text, const std::string& option);

// The text of one cell: integers as written, floats in shortest round-trip form, NULL as "".
std::string CellText(const results::Value& value);

void WriteTable(std::ostream& out, const results::ResultSet& set, TableFormat format);

}  // namespace ablate::reports
