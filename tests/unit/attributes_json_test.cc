#include <catch2/catch.hpp>

#include "attributes_json.h"

using namespace kairos::persistence;

namespace {

SearchAttributeValue Text(const std::string& name, const std::string& text) {
  SearchAttributeValue v;
  v.name = name;
  v.text = text;
  return v;
}

SearchAttributeValue Int(const std::string& name, int64_t i) {
  SearchAttributeValue v;
  v.name = name;
  v.int_value = i;
  return v;
}

}  // namespace

TEST_CASE("attributes JSON: one array per name, each value in its one form", "[visibility]") {
  SearchAttributeValue words;
  words.name = "Notes";
  words.words = " fragile glass ";
  SearchAttributeValue price;
  price.name = "Price";
  price.double_value = 2.5;
  SearchAttributeValue vip;
  vip.name = "Vip";
  vip.bool_value = 1;
  SearchAttributeValue due;
  due.name = "DueAt";
  due.time_nanos = 1893456000000000000;
  CHECK(AttributesJson({Text("Tags", "a"), Text("Tags", "b\"q"), Int("Amount", -42), words, price, vip, due}) ==
        R"({"Tags":["a","b\"q"],"Amount":[-42],"Notes":[" fragile glass "],"Price":[2.5],"Vip":[1],)"
        R"("DueAt":[1893456000000000000]})");
  CHECK(AttributesJson({}).empty());
}

TEST_CASE("attributes JSON: a merge replaces the named members and keeps the others as they are", "[visibility]") {
  const std::string old = R"({"CustomerId":["c1"],"Tags":["x,y","[z]"],"Amount":[42]})";
  CHECK(MergeAttributesJson(old, {"BuildIds"}, {Text("BuildIds", "unversioned")}) ==
        R"({"CustomerId":["c1"],"Tags":["x,y","[z]"],"Amount":[42],"BuildIds":["unversioned"]})");
  CHECK(MergeAttributesJson(old, {"Tags", "Amount"}, {Int("Amount", 7)}) == R"({"CustomerId":["c1"],"Amount":[7]})");
  CHECK(MergeAttributesJson(old, {"CustomerId", "Tags", "Amount"}, {}).empty());
  CHECK(MergeAttributesJson("", {"A"}, {Int("A", 1)}) == R"({"A":[1]})");
  CHECK(HasAttribute(old, "Tags"));
  CHECK_FALSE(HasAttribute(old, "Ta"));
  CHECK_FALSE(HasAttribute("", "Tags"));
  // A key with an escape, as SQLite's JSON writes it.
  const std::string quoted = R"({"a\"b":[1],"c":[2]})";
  CHECK(HasAttribute(quoted, "a\"b"));
  CHECK(MergeAttributesJson(quoted, {"a\"b"}, {}) == R"({"c":[2]})");
}
