// Search attributes are checked as Temporal 1.32 checks them: the decoding
// of each type, the messages, the order of the checks, the size limits.
#include <string>

#include <catch2/catch.hpp>

#include "kairos/persistence/sqlite_store.h"
#include "kairos/visibility/json_value.h"
#include "kairos/visibility/search_attribute_validator.h"

using namespace kairos;
using namespace kairos::visibility;
using temporal::api::common::v1::Payload;
using temporal::api::common::v1::SearchAttributes;

namespace {

Payload Json(const std::string& data) {
  Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  p.set_data(data);
  return p;
}

// Empty when accepted, else what Temporal prints for the value.
std::string Shown(const std::string& json, enums::IndexedValueType type) {
  std::string shown;
  return DecodesAs(Json(json), type, &shown) ? "" : shown;
}

}  // namespace

TEST_CASE("values decode as Temporal decodes each type", "[search-attributes]") {
  using enum enums::IndexedValueType;
  CHECK(Shown(R"("x")", INDEXED_VALUE_TYPE_KEYWORD).empty());
  CHECK(Shown(R"("some words")", INDEXED_VALUE_TYPE_TEXT).empty());
  CHECK(Shown("12", INDEXED_VALUE_TYPE_KEYWORD) == "12");
  CHECK(Shown(R"(["a","b"])", INDEXED_VALUE_TYPE_KEYWORD) == "[a b]");

  CHECK(Shown("-42", INDEXED_VALUE_TYPE_INT).empty());
  CHECK(Shown("12.0", INDEXED_VALUE_TYPE_INT) == "12");
  CHECK(Shown("1e3", INDEXED_VALUE_TYPE_INT) == "1000");
  CHECK(Shown("1.5", INDEXED_VALUE_TYPE_INT) == "1.5");
  CHECK(Shown("-0.000001", INDEXED_VALUE_TYPE_INT) == "-1e-06");
  CHECK(Shown("1e21", INDEXED_VALUE_TYPE_INT) == "1e+21");
  CHECK(Shown("1234567", INDEXED_VALUE_TYPE_INT).empty());
  CHECK(Shown("123456789012345678901", INDEXED_VALUE_TYPE_INT) == "1.2345678901234568e+20");
  CHECK(Shown(R"("12")", INDEXED_VALUE_TYPE_INT) == "12");
  CHECK(Shown("[1,2]", INDEXED_VALUE_TYPE_INT) == "[1 2]");
  // A list of one is its item (older SDKs send scalars that way).
  CHECK(Shown("[7]", INDEXED_VALUE_TYPE_INT).empty());
  CHECK(Shown(R"(["c1"])", INDEXED_VALUE_TYPE_KEYWORD).empty());
  CHECK(Shown("[true]", INDEXED_VALUE_TYPE_BOOL).empty());
  CHECK(Shown(R"(["x"])", INDEXED_VALUE_TYPE_BOOL) == "[x]");

  CHECK(Shown("1e300", INDEXED_VALUE_TYPE_DOUBLE).empty());
  CHECK(Shown("2", INDEXED_VALUE_TYPE_DOUBLE).empty());
  CHECK(Shown("true", INDEXED_VALUE_TYPE_DOUBLE) == "true");
  CHECK(Shown("false", INDEXED_VALUE_TYPE_BOOL).empty());
  CHECK(Shown(R"("true")", INDEXED_VALUE_TYPE_BOOL) == "true");

  CHECK(Shown(R"("2030-01-01T00:00:00.5+01:00")", INDEXED_VALUE_TYPE_DATETIME).empty());
  CHECK(Shown(R"(["2030-01-01T00:00:00Z"])", INDEXED_VALUE_TYPE_DATETIME).empty());
  CHECK(Shown(R"("2030-01-01")", INDEXED_VALUE_TYPE_DATETIME) == "2030-01-01");
  CHECK(Shown(R"("2030-01-01t00:00:00z")", INDEXED_VALUE_TYPE_DATETIME) == "2030-01-01t00:00:00z");
  CHECK(Shown("123", INDEXED_VALUE_TYPE_DATETIME) == "123");

  CHECK(Shown(R"(["a",null])", INDEXED_VALUE_TYPE_KEYWORD_LIST).empty());
  CHECK(Shown(R"("a")", INDEXED_VALUE_TYPE_KEYWORD_LIST) == "a");
  CHECK(Shown(R"(["a",1])", INDEXED_VALUE_TYPE_KEYWORD_LIST) == "[a 1]");

  CHECK(Shown(R"({"b":[true,null],"a":1})", INDEXED_VALUE_TYPE_TEXT) == "map[a:1 b:[true <nil>]]");

  // Shapes the quick check leaves to the JSON reader: escapes, leading zeros.
  CHECK(Shown(R"("a\"b")", INDEXED_VALUE_TYPE_KEYWORD).empty());
  CHECK(Shown(R"("a\u00e9")", INDEXED_VALUE_TYPE_TEXT).empty());
  CHECK(!Shown("007", INDEXED_VALUE_TYPE_INT).empty());
  CHECK(!Shown("-", INDEXED_VALUE_TYPE_INT).empty());
  CHECK(Shown("-0", INDEXED_VALUE_TYPE_INT).empty());
  CHECK(Shown("0", INDEXED_VALUE_TYPE_DOUBLE).empty());
}

TEST_CASE("null and an empty list unset any type; other encodings do not decode", "[search-attributes]") {
  using enum enums::IndexedValueType;
  for (auto type : {INDEXED_VALUE_TYPE_INT, INDEXED_VALUE_TYPE_KEYWORD_LIST, INDEXED_VALUE_TYPE_DATETIME}) {
    CHECK(Shown("null", type).empty());
    CHECK(Shown("[]", type).empty());
  }
  std::string shown;
  Payload null_payload;
  (*null_payload.mutable_metadata())["encoding"] = "binary/null";
  CHECK(DecodesAs(null_payload, INDEXED_VALUE_TYPE_INT, &shown));

  Payload bytes;
  (*bytes.mutable_metadata())["encoding"] = "binary/plain";
  bytes.set_data("12");
  CHECK_FALSE(DecodesAs(bytes, INDEXED_VALUE_TYPE_INT, &shown));
  CHECK(shown == "[49 50]");

  CHECK_FALSE(DecodesAs(Json("{oops"), INDEXED_VALUE_TYPE_KEYWORD, &shown));
  CHECK(shown == R"(value from <metadata:{key:"encoding" value:"json/plain"} data:"{oops">)");

  Payload bare;
  bare.set_data("12");
  CHECK_FALSE(DecodesAs(bare, INDEXED_VALUE_TYPE_INT, &shown));
  CHECK(shown == R"(value from <data:"12">)");
}

TEST_CASE("the validator checks names, then the count, then each value, then sizes", "[search-attributes]") {
  std::unique_ptr<persistence::Store> store;
  REQUIRE(persistence::OpenSqliteStore(persistence::SqliteOptions{}, &store).ok());
  SearchAttributeRegistry registry(store.get());
  REQUIRE(registry.Load().ok());
  REQUIRE(registry.Add("ns", {{"CustomerId", enums::INDEXED_VALUE_TYPE_KEYWORD},
                              {"Amount", enums::INDEXED_VALUE_TYPE_INT}})
              .ok());
  SearchAttributeValidator validator(&registry, SearchAttributeLimits{2, 8, 200});
  auto check = [&](std::initializer_list<std::pair<const char*, const char*>> fields) {
    SearchAttributes sa;
    for (auto [name, json] : fields) (*sa.mutable_indexed_fields())[name] = Json(json);
    return validator.ValidateAll("ns", "orders", sa).error_message();
  };
  CHECK(check({}).empty());
  CHECK(check({{"CustomerId", R"("c1")"}, {"Amount", "3"}}).empty());
  CHECK(check({{"Zed", "1"}, {"Nope", "1"}}) == "Namespace orders has no mapping defined for search attribute Nope");
  CHECK(check({{"CustomerId", R"("c1")"}, {"Amount", "3"}, {"TemporalChangeVersion", R"(["v"])"}}) ==
        "number of search attributes 3 exceeds limit 2");
  CHECK(check({{"WorkflowId", R"("w")"}}) == "WorkflowId attribute can't be set in SearchAttributes");
  CHECK(check({{"TemporalWorkerDeployment", R"("d")"}}) ==
        "TemporalWorkerDeployment attribute can't be set in SearchAttributes");
  CHECK(check({{"TemporalChangeVersion", R"(["v1"])"}}).empty());
  CHECK(check({{"Amount", R"("x")"}}) == "invalid value for search attribute Amount of type Int: x");
  CHECK(check({{"CustomerId", R"("123456789")"}}) == "search attribute CustomerId value size 11 exceeds size limit 8");
  // Registered in another namespace only: unknown here.
  REQUIRE(registry.Add("other", {{"Elsewhere", enums::INDEXED_VALUE_TYPE_BOOL}}).ok());
  CHECK(check({{"Elsewhere", "true"}}) == "Namespace orders has no mapping defined for search attribute Elsewhere");

  SearchAttributes big;
  auto padded = Json(R"("c")");
  (*padded.mutable_metadata())["pad"] = std::string(200, 'p');
  (*big.mutable_indexed_fields())["CustomerId"] = padded;
  CHECK(validator.ValidateSize(big).error_message() ==
        "total size of search attributes " + std::to_string(big.ByteSizeLong()) + " exceeds size limit 200");
}

TEST_CASE("the JSON reader reads what payloads hold and refuses what is not JSON", "[search-attributes]") {
  auto v = ParseJsonValue(R"( {"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {}} )");
  REQUIRE(v);
  const auto& a = v->struct_value().fields().at("a").list_value();
  CHECK(a.values(0).number_value() == 1);
  CHECK(a.values(1).number_value() == -2500);
  CHECK(a.values(2).bool_value());
  CHECK(a.values(3).kind_case() == google::protobuf::Value::kNullValue);
  CHECK(a.values(4).string_value() == "x\xc3\xa9\xf0\x9f\x98\x80\n");
  for (const char* bad : {"", "{oops", "[1,]", "01", "1.", "\"open", "tru", "[1] 2", "{\"a\" 1}", "\"\\q\""})
    CHECK_FALSE(ParseJsonValue(bad));
  CHECK(ParseJsonValue("12")->number_value() == 12);
  CHECK(ParseJsonValue("\"s\"")->string_value() == "s");
}
