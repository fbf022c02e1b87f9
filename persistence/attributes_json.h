// The visibility row's search-attribute column: a run's attributes as a
// compact JSON object of arrays ({"CustomerId":["c1"],"Amount":[42]}), one
// item per value (a list's items), which the per-run checks of a query read
// with SQLite's JSON functions. Built and merged here, in C++, so that a
// write costs SQLite no JSON parsing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kairos/persistence/store.h"

namespace kairos::persistence {

// The object of `values` (those of one name adjacent); "" when none.
std::string AttributesJson(const std::vector<SearchAttributeValue>& values);

// `old` (an object this file or SQLite wrote, compact) with the members
// named in `replaced` dropped and those of `values` (all named in
// `replaced`) added; "" when nothing is left.
std::string MergeAttributesJson(std::string_view old, const std::vector<std::string>& replaced,
                                const std::vector<SearchAttributeValue>& values);

// Whether `json` (as above) has a member `name`.
bool HasAttribute(std::string_view json, const std::string& name);

}  // namespace kairos::persistence
