// Numbered schema migrations. Migration N brings a database from version N-1
// to N; the schema_version table records the version written.
#pragma once

#include <string>
#include <vector>

namespace kairos::persistence {

const std::vector<std::string>& Migrations();

}  // namespace kairos::persistence
