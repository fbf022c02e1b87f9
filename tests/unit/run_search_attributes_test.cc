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

TEST_CASE("run search attributes: the named ones decoded alone, the others kept as bytes", "[history]") {
  kairos::records::ExecutionState state;
  temporal::api::common::v1::SearchAttributes start;
  (*start.mutable_indexed_fields())["CustomerId"] = Json("\"c1\"");
  (*start.mutable_indexed_fields())["Amount"] = Json("5");
  (*start.mutable_indexed_fields())["Region"] = Json("\"eu\"");
  SetSearchAttributes(&state, start);

  auto some = SearchAttributesOf(state, {"Amount", "Region", "Missing"});
  CHECK(some.indexed_fields().size() == 2);
  CHECK(some.indexed_fields().at("Amount").data() == "5");
  CHECK(some.indexed_fields().at("Region").metadata().at("encoding") == "json/plain");
  CHECK(SearchAttributesOf(state, {}).indexed_fields().empty());

  // An upsert of one attribute leaves the other entries' bytes as they were.
  temporal::api::common::v1::SearchAttributes upsert;
  (*upsert.mutable_indexed_fields())["Amount"] = Json("9");
  (*upsert.mutable_indexed_fields())["Extra"] = Json("true");
  UpsertSearchAttributes(&state, upsert);
  auto now = SearchAttributesOf(state);
  CHECK(now.indexed_fields().size() == 4);
  CHECK(now.indexed_fields().at("Amount").data() == "9");
  CHECK(now.indexed_fields().at("CustomerId").data() == "\"c1\"");
  CHECK(now.indexed_fields().at("Extra").data() == "true");
  // Upserting the same value again does not duplicate the entry.
  UpsertSearchAttributes(&state, upsert);
  std::string once = state.search_attributes();
  UpsertSearchAttributes(&state, upsert);
  CHECK(state.search_attributes().size() == once.size());
  CHECK(SearchAttributesOf(state, {"Amount"}).indexed_fields().at("Amount").data() == "9");
}

TEST_CASE("run search attributes: bytes that are not a map decode as before", "[history]") {
  kairos::records::ExecutionState state;
  state.set_search_attributes(std::string("\x08\x01", 2));  // Field 1 as a varint: not an entry.
  CHECK(SearchAttributesOf(state, {"Amount"}).indexed_fields().empty());
  temporal::api::common::v1::SearchAttributes upsert;
  (*upsert.mutable_indexed_fields())["Amount"] = Json("1");
  UpsertSearchAttributes(&state, upsert);
  CHECK(SearchAttributesOf(state).indexed_fields().at("Amount").data() == "1");
}
