// A run's search attributes kept serialized in its state.
#include <catch2/catch.hpp>

#include "kairos/history/run_search_attributes.h"

using namespace kairos::history;

namespace {

temporal::api::common::v1::Payload Json(const std::string& data) {
  temporal::api::common::v1::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  p.set_data(data);
  return p;
}

}  // namespace

TEST_CASE("run search attributes: set, upsert (empty or null removes), division", "[history]") {
  kairos::records::ExecutionState state;
  CHECK(SearchAttributesOf(state).indexed_fields().empty());
  CHECK(NamespaceDivisionOf(state).empty());

  temporal::api::common::v1::SearchAttributes start;
  (*start.mutable_indexed_fields())["CustomerId"] = Json("\"c1\"");
  (*start.mutable_indexed_fields())["Amount"] = Json("5");
  (*start.mutable_indexed_fields())["Region"] = Json("\"eu\"");
  SetSearchAttributes(&state, start);
  CHECK(SearchAttributesOf(state).indexed_fields().size() == 3);

  temporal::api::common::v1::SearchAttributes upsert;
  (*upsert.mutable_indexed_fields())["Amount"] = Json("7");
  (*upsert.mutable_indexed_fields())["Region"] = Json("null");
  (*upsert.mutable_indexed_fields())["CustomerId"] = Json("");
  (*upsert.mutable_indexed_fields())["TemporalNamespaceDivision"] = Json("\"d1\"");
  UpsertSearchAttributes(&state, upsert);
  auto now = SearchAttributesOf(state);
  CHECK(now.indexed_fields().size() == 2);
  CHECK(now.indexed_fields().at("Amount").data() == "7");
  CHECK(NamespaceDivisionOf(state) == "d1");
}
