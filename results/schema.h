// The results database schema: numbered migrations applied in order, each in its own transaction,
// with PRAGMA user_version recording how many have run. Does not add runs_wide's per-name columns
// (those depend on the data; Store::RefreshWideView rebuilds that view).
#pragma once

#include "results/sqlite.h"

namespace ablate::results {

// The schema version this build writes: the number of migrations it knows.
int LatestSchemaVersion();

// PRAGMA user_version of the connected database.
int SchemaVersion(const Connection& connection);

// Brings the database up to LatestSchemaVersion(); a no-op when it is already there. Safe when
// several processes open one new file at once. Throws InputError naming the file when it was
// written by a newer ablate, or is an SQLite database that ablate did not create.
void Migrate(const Connection& connection);

// The same up to schema `version` (1..LatestSchemaVersion()) only: a database exactly as the ablate
// of that version made it, for the tests that open what an older ablate wrote.
void MigrateTo(const Connection& connection, int version);

}  // namespace ablate::results
