// The List Filter parser and its translation to SQL: every operator,
// precedence, quoting, and Temporal's error messages.
#include <catch2/catch.hpp>

#include "kairos/visibility/query.h"
#include "kairos/visibility/query_sql.h"
#include "kairos/visibility/values.h"

using namespace kairos::visibility;
using kairos::persistence::SqlValue;

namespace {

const TypeMap kCustom = {
    {"CustomerId", enums::INDEXED_VALUE_TYPE_KEYWORD},   {"Notes", enums::INDEXED_VALUE_TYPE_TEXT},
    {"Amount", enums::INDEXED_VALUE_TYPE_INT},           {"Score", enums::INDEXED_VALUE_TYPE_DOUBLE},
    {"Vip", enums::INDEXED_VALUE_TYPE_BOOL},             {"DueAt", enums::INDEXED_VALUE_TYPE_DATETIME},
    {"Tags", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
};

TranslatedQuery Translate(const std::string& q, QueryUse use = QueryUse::kList) {
  TranslatedQuery out;
  auto st = TranslateQuery(q, kCustom, use, &out);
  INFO(q << " -> " << st.error_message());
  REQUIRE(st.ok());
  return out;
}

std::string Error(const std::string& q, QueryUse use = QueryUse::kList) {
  TranslatedQuery out;
  auto st = TranslateQuery(q, kCustom, use, &out);
  INFO(q);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  return st.error_message();
}

std::string Str(const SqlValue& v) { return std::get<std::string>(v); }
int64_t Int(const SqlValue& v) { return std::get<int64_t>(v); }

constexpr const char* kDivision = " AND v.namespace_division IS NULL";

}  // namespace

TEST_CASE("list filter: empty query matches every run of no division", "[visibility]") {
  auto q = Translate("  ");
  CHECK(q.filter.where == "v.namespace_division IS NULL");
  CHECK(q.filter.params.empty());
}

TEST_CASE("list filter: comparisons on system columns bind their values", "[visibility]") {
  for (const char* op : {"=", "!=", "<", ">", "<=", ">="}) {
    auto q = Translate(std::string("WorkflowId ") + op + " 'wf-1'");
    CHECK(q.filter.where == std::string("(v.workflow_id ") + op + " ?)" + kDivision);
    REQUIRE(q.filter.params.size() == 1);
    CHECK(Str(q.filter.params[0]) == "wf-1");
  }
  auto ne = Translate("WorkflowId <> 'x'");
  CHECK(ne.filter.where == std::string("(v.workflow_id != ?)") + kDivision);
}

TEST_CASE("list filter: values are bound, never spliced", "[visibility]") {
  auto q = Translate("WorkflowId = 'a''; DROP TABLE visibility; --'");
  CHECK(q.filter.where.find("DROP") == std::string::npos);
  CHECK(Str(q.filter.params[0]) == "a'; DROP TABLE visibility; --");
}

TEST_CASE("list filter: quoting of values and names", "[visibility]") {
  CHECK(Str(Translate("WorkflowId = \"double\"").filter.params[0]) == "double");
  CHECK(Str(Translate("WorkflowId = 'it\\'s'").filter.params[0]) == "it's");
  CHECK(Str(Translate("WorkflowId = \"say \"\"hi\"\"\"").filter.params[0]) == "say \"hi\"");
  CHECK(Translate("`WorkflowId` = 'x'").filter.where == std::string("(v.workflow_id = ?)") + kDivision);
  CHECK(Translate("`CustomerId` = 'x'").filter.params.size() == 4);  // With the index driver.
}

TEST_CASE("list filter: keywords are case-insensitive", "[visibility]") {
  auto a = Translate("WorkflowId = 'a' AND RunId = 'b'");
  auto b = Translate("WorkflowId = 'a' and RunId = 'b'");
  CHECK(a.filter.where == b.filter.where);
  CHECK(Translate("WorkflowId IN ('a')").filter.where == Translate("WorkflowId in ('a')").filter.where);
}

TEST_CASE("list filter: AND binds tighter than OR; NOT tighter than AND; parentheses", "[visibility]") {
  auto q = Translate("WorkflowId = 'a' OR WorkflowId = 'b' AND RunId = 'c'");
  CHECK(q.filter.where == std::string("((v.workflow_id = ?) OR ((v.workflow_id = ?) AND (v.run_id = ?)))") + kDivision);
  CHECK(Str(q.filter.params[0]) == "a");
  CHECK(Str(q.filter.params[1]) == "b");
  CHECK(Str(q.filter.params[2]) == "c");
  auto p = Translate("(WorkflowId = 'a' OR WorkflowId = 'b') AND RunId = 'c'");
  CHECK(p.filter.where == std::string("((((v.workflow_id = ?) OR (v.workflow_id = ?))) AND (v.run_id = ?))") + kDivision);
  auto n = Translate("NOT WorkflowId = 'a' AND RunId = 'c'");
  CHECK(n.filter.where == std::string("((NOT (v.workflow_id = ?)) AND (v.run_id = ?))") + kDivision);
}

TEST_CASE("list filter: IN, NOT IN, BETWEEN, STARTS_WITH, IS NULL", "[visibility]") {
  auto in = Translate("WorkflowType IN ('a', 'b', 'c')");
  CHECK(in.filter.where == std::string("(v.workflow_type IN (?, ?, ?))") + kDivision);
  CHECK(in.filter.params.size() == 3);
  CHECK(Translate("WorkflowType NOT IN ('a')").filter.where == std::string("(v.workflow_type NOT IN (?))") + kDivision);
  auto between = Translate("HistoryLength BETWEEN 5 AND 10");
  CHECK(between.filter.where == std::string("(v.history_length BETWEEN ? AND ?)") + kDivision);
  CHECK(Int(between.filter.params[0]) == 5);
  CHECK(Int(between.filter.params[1]) == 10);
  CHECK(Translate("HistoryLength NOT BETWEEN 5 AND 10").filter.where ==
        std::string("(v.history_length NOT BETWEEN ? AND ?)") + kDivision);
  auto sw = Translate("WorkflowId STARTS_WITH 'order-%_'");
  CHECK(sw.filter.where == std::string("(substr(v.workflow_id, 1, length(?)) = ?)") + kDivision);
  CHECK(Str(sw.filter.params[0]) == "order-%_");
  CHECK(Translate("WorkflowId NOT STARTS_WITH 'x'").filter.where ==
        std::string("(substr(v.workflow_id, 1, length(?)) != ?)") + kDivision);
  CHECK(Translate("CloseTime IS NULL").filter.where == std::string("(v.close_time_nanos = 0)") + kDivision);
  CHECK(Translate("CloseTime IS NOT NULL").filter.where == std::string("(v.close_time_nanos != 0)") + kDivision);
  CHECK(Translate("ParentWorkflowId is null").filter.where == std::string("(v.parent_workflow_id IS NULL)") + kDivision);
  auto custom = Translate("CustomerId IS NOT NULL");
  CHECK(custom.filter.where.rfind("(EXISTS (SELECT 1 FROM json_each(v.search_attributes, ?) e)", 0) == 0);
  CHECK(Str(custom.filter.params[0]) == "$.\"CustomerId\"");
}

TEST_CASE("list filter: typed values", "[visibility]") {
  auto status = Translate("ExecutionStatus = 'Completed'");
  CHECK(Int(status.filter.params[0]) == 2);
  CHECK(Int(Translate("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_RUNNING'").filter.params[0]) == 1);
  CHECK(Int(Translate("ExecutionStatus = 3").filter.params[0]) == 3);
  auto t = Translate("StartTime > '2026-11-01T00:00:00Z'");
  CHECK(Int(t.filter.params[0]) == *ParseRfc3339("2026-11-01T00:00:00Z"));
  CHECK(Int(Translate("StartTime > '2026-11-01T01:00:00+01:00'").filter.params[0]) ==
        *ParseRfc3339("2026-11-01T00:00:00Z"));
  CHECK(Int(Translate("ExecutionDuration > '1h'").filter.params[0]) == 3'600'000'000'000);
  CHECK(Int(Translate("ExecutionDuration > '00:01:00'").filter.params[0]) == 60'000'000'000);
  CHECK(Int(Translate("ExecutionDuration > 5").filter.params[0]) == 5);
  CHECK(std::get<double>(Translate("Score > 1.5").filter.params[1]) == 1.5);
  CHECK(Int(Translate("Amount >= -3").filter.params[1]) == -3);
  CHECK(Int(Translate("Vip = true").filter.params[1]) == 1);
  CHECK(Int(Translate("DueAt < '2030-01-01T00:00:00.5Z'").filter.params[1]) ==
        *ParseRfc3339("2030-01-01T00:00:00Z") + 500'000'000);
}

TEST_CASE("list filter: custom attributes compare the run's values", "[visibility]") {
  auto q = Translate("CustomerId = 'c1'");
  CHECK(q.filter.where.find("json_extract(v.search_attributes, ?) = ?") != std::string::npos);
  CHECK(Str(q.filter.params[0]) == "CustomerId");  // The value table's driver...
  CHECK(Str(q.filter.params[1]) == "c1");
  CHECK(Str(q.filter.params[2]) == "$.\"CustomerId\"[0]");  // ...then the run's own value.
  CHECK(Str(q.filter.params[3]) == "c1");
  auto vip = Translate("Vip = false");
  CHECK(vip.filter.where == std::string("(json_extract(v.search_attributes, ?) = ?)") + kDivision);
  CHECK(Str(vip.filter.params[0]) == "$.\"Vip\"[0]");
  auto list = Translate("Tags != 'x'");
  CHECK(list.filter.where ==
        std::string("(NOT EXISTS (SELECT 1 FROM json_each(v.search_attributes, ?) e WHERE e.value IN (?)))") +
            kDivision);
  CHECK(Str(list.filter.params[0]) == "$.\"Tags\"");
}

TEST_CASE("list filter: keyword equality starts from the value index where the whole query needs it", "[visibility]") {
  auto q = Translate("CustomerId = 'c1' AND WorkflowType = 'T'");
  CHECK(q.filter.where.rfind("((v.id IN (SELECT a.run FROM "
                             "visibility_values a WHERE a.namespace_id = ?1 AND a.name = ? AND a.value IN (?)) AND ",
                             0) == 0);
  REQUIRE(q.filter.params.size() == 5);
  CHECK(Str(q.filter.params[1]) == "c1");
  CHECK(Str(q.filter.params[3]) == "c1");
  CHECK(Str(q.filter.params[4]) == "T");
  CHECK(Translate("CustomerId = 'c1' OR WorkflowType = 'T'").filter.where.find("?1") == std::string::npos);
  CHECK(Translate("NOT CustomerId = 'c1'").filter.where.find("?1") == std::string::npos);
  CHECK(Translate("CustomerId != 'c1'").filter.where.find("?1") == std::string::npos);
}

TEST_CASE("list filter: KeywordList contains; Text matches words", "[visibility]") {
  auto eq = Translate("Tags = 'red'");
  CHECK(eq.filter.where.find("EXISTS (SELECT 1") != std::string::npos);
  CHECK(eq.filter.where.find("a.value IN (?)") != std::string::npos);  // The value table's driver.
  CHECK(eq.filter.where.find("e.value IN (?)") != std::string::npos);  // The run's own items.
  CHECK(Translate("Tags != 'red'").filter.where.rfind("(NOT EXISTS", 0) == 0);
  CHECK(Translate("Tags IN ('a', 'b')").filter.params.size() == 6);
  CHECK(Translate("Tags NOT IN ('a', 'b')").filter.where.rfind("(NOT EXISTS", 0) == 0);
  auto text = Translate("Notes = 'Quick, brown'");
  CHECK(text.filter.where.find("instr(e.value, ?) > 0 OR instr(e.value, ?) > 0") != std::string::npos);
  CHECK(Str(text.filter.params[1]) == " quick ");
  CHECK(Str(text.filter.params[2]) == " brown ");
}

TEST_CASE("list filter: Temporal prefix and ScheduleId aliases", "[visibility]") {
  CHECK(Translate("ChangeVersion = 'v1'").filter.params[0] == SqlValue(std::string("TemporalChangeVersion")));
  CHECK(Translate("ScheduleId = 's'").filter.where == std::string("(v.workflow_id = ?)") + kDivision);
  auto d = Translate("TemporalNamespaceDivision = 'x'");
  CHECK(d.filter.where == "(v.namespace_division = ?)");
}

TEST_CASE("list filter: GROUP BY ExecutionStatus in counts only", "[visibility]") {
  auto q = Translate("GROUP BY ExecutionStatus", QueryUse::kCount);
  CHECK(q.group_by == "ExecutionStatus");
  CHECK(q.group_column == "v.status");
  auto w = Translate("WorkflowType = 'a' GROUP BY ExecutionStatus", QueryUse::kCount);
  CHECK(w.group_column == "v.status");
  CHECK(Error("GROUP BY ExecutionStatus") == "invalid query: operation is not supported: 'GROUP BY' clause");
  CHECK(Error("GROUP BY WorkflowType", QueryUse::kCount) ==
        "invalid query: operation is not supported: 'GROUP BY' clause is not supported for search attribute "
        "WorkflowType");
  CHECK(Error("GROUP BY ExecutionStatus, WorkflowType", QueryUse::kCount) ==
        "invalid query: operation is not supported: 'GROUP BY' clause supports only a single field");
}

TEST_CASE("list filter: errors in Temporal's words", "[visibility]") {
  CHECK(Error("CloseTime = missing") ==
        "invalid query: operation is not supported: column name on the right side of comparison expression (did you "
        "forget to quote 'missing'?)");
  CHECK(Error("Unknown = 'x'") == "invalid query: invalid expression: column name 'Unknown' is not a valid search attribute");
  CHECK(Error("Amount = 'abc'") ==
        "invalid query: invalid expression: invalid value type for search attribute Amount of type Int: \"abc\" (type: "
        "string)");
  CHECK(Error("CustomerId = 5") ==
        "invalid query: invalid expression: invalid value type for search attribute CustomerId of type Keyword: 5 "
        "(type: int64)");
  CHECK(Error("StartTime > 'yesterday'") == "invalid query: invalid expression: unable to parse datetime 'yesterday'");
  CHECK(Error("ExecutionStatus = 'Done'") == "invalid query: invalid expression: invalid ExecutionStatus value 'Done'");
  CHECK(Error("WorkflowId = 'a' ORDER BY StartTime") == "invalid query: operation is not supported: 'ORDER BY' clause");
  CHECK(Error("ORDER BY StartTime DESC") == "invalid query: operation is not supported: 'ORDER BY' clause");
  CHECK(Error("WorkflowId = 'a' LIMIT 5") == "invalid query: operation is not supported: 'LIMIT' clause");
  CHECK(Error("WorkflowId") == "invalid query: invalid expression: incomplete expression");
  CHECK(Error("WorkflowId LIKE 'a%'") == "invalid query: invalid expression: invalid operator 'like' in `WorkflowId like 'a%'`");
  CHECK(Error("Tags > 'a'") ==
        "invalid query: invalid expression: operator '>' not supported for KeywordList type search attribute in `Tags > 'a'`");
  CHECK(Error("Notes STARTS_WITH 'a'") ==
        "invalid query: invalid expression: operator 'starts_with' not supported for Text type search attribute in `Notes "
        "starts_with 'a'`");
  CHECK(Error("Amount STARTS_WITH 'a'").find("invalid value type") != std::string::npos);
  CHECK(Error("Vip BETWEEN 1 AND 2") ==
        "invalid query: invalid expression: cannot do range condition on search attribute 'Vip' of type Bool");
  CHECK(Error("CloseTime IS TRUE") == "invalid query: invalid expression: 'IS' operator can only be used with 'NULL' or 'NOT NULL'");
  CHECK(Error("'a' = WorkflowId") == "invalid query: invalid expression: must be a column name but was *sqlparser.SQLVal");
  CHECK(Error("WorkflowId = now()") == "invalid query: operation is not supported: nested func");
  CHECK(Error("WorkflowId = NULL") == "invalid query: invalid expression: unexpected value type *sqlparser.NullVal");
  CHECK(Error("Notes = ' '") ==
        "invalid query: invalid expression: unexpected value for Text type search attribute (no tokens found in ' ')");
}

TEST_CASE("list filter: malformed queries", "[visibility]") {
  CHECK(Error("WorkflowId = 'a' AND") == "invalid query: malformed SQL query: syntax error at position 48");
  CHECK(Error("WorkflowId = = 'a'") == "invalid query: malformed SQL query: syntax error at position 42 near '='");
  CHECK(Error("WorkflowId = 'a").rfind("invalid query: malformed SQL query: syntax error at position", 0) == 0);
  CHECK(Error("(WorkflowId = 'a'").rfind("invalid query: malformed SQL query: syntax error", 0) == 0);
  CHECK(Error("WorkflowId IN ()").rfind("invalid query: malformed SQL query: syntax error", 0) == 0);
  CHECK(Error("WorkflowId BETWEEN 'a'").rfind("invalid query: malformed SQL query: syntax error", 0) == 0);
  CHECK(Error("WorkflowId = 'a' garbage").rfind("invalid query: malformed SQL query: syntax error", 0) == 0);
}

TEST_CASE("values: RFC 3339, durations, words", "[visibility]") {
  CHECK(*ParseRfc3339("1970-01-01T00:00:01Z") == 1'000'000'000);
  CHECK(*ParseRfc3339("1970-01-01T00:00:00.000000001Z") == 1);
  CHECK(*ParseRfc3339("1970-01-01T01:00:00+01:00") == 0);
  CHECK_FALSE(ParseRfc3339("1970-01-01 00:00:00Z"));
  CHECK_FALSE(ParseRfc3339("1970-01-01T00:00:00"));
  CHECK(*ParseDuration("1h30m") == 5'400'000'000'000);
  CHECK(*ParseDuration("300ms") == 300'000'000);
  CHECK(*ParseDuration("2d") == 172'800'000'000'000);
  CHECK_FALSE(ParseDuration("soon"));
  CHECK(Words("Hello, World-42") == " hello world 42 ");
}

TEST_CASE("values: payloads are indexed in every comparable form", "[visibility]") {
  temporal::api::common::v1::SearchAttributes sa;
  auto set = [&](const std::string& name, const std::string& json) {
    auto& p = (*sa.mutable_indexed_fields())[name];
    (*p.mutable_metadata())["encoding"] = "json/plain";
    p.set_data(json);
  };
  set("K", "\"abc\"");
  set("I", "9007199254740993");
  set("D", "1.5");
  set("B", "true");
  set("T", "\"2026-01-01T00:00:00Z\"");
  set("L", "[\"x\",\"y\"]");
  auto values = IndexValues(sa);
  std::map<std::string, std::vector<kairos::persistence::SearchAttributeValue>> by_name;
  for (auto& v : values) by_name[v.name].push_back(v);
  CHECK(*by_name["K"][0].text == "abc");
  CHECK(*by_name["I"][0].int_value == 9007199254740993LL);
  CHECK(*by_name["D"][0].double_value == 1.5);
  CHECK_FALSE(by_name["D"][0].int_value);
  CHECK(*by_name["B"][0].bool_value == 1);
  CHECK(*by_name["T"][0].time_nanos == *ParseRfc3339("2026-01-01T00:00:00Z"));
  REQUIRE(by_name["L"].size() == 2);
  CHECK(*by_name["L"][1].text == "y");
}

TEST_CASE("values: a registered type keeps only the form its queries compare", "[visibility]") {
  temporal::api::common::v1::SearchAttributes sa;
  auto set = [&](const std::string& name, const std::string& json) {
    auto& p = (*sa.mutable_indexed_fields())[name];
    (*p.mutable_metadata())["encoding"] = "json/plain";
    p.set_data(json);
  };
  set("I", "42");
  set("D", "2");
  set("K", "\"2026-01-01T00:00:00Z\"");
  set("T", "\"Hello World\"");
  set("L", "[\"x\",\"y\"]");
  set("Unknown", "7");
  const TypeMap types = {{"I", enums::INDEXED_VALUE_TYPE_INT},
                         {"D", enums::INDEXED_VALUE_TYPE_DOUBLE},
                         {"K", enums::INDEXED_VALUE_TYPE_KEYWORD},
                         {"T", enums::INDEXED_VALUE_TYPE_TEXT},
                         {"L", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST}};
  auto values = IndexValues(sa, [&](const std::string& name) -> std::optional<enums::IndexedValueType> {
    auto it = types.find(name);
    if (it == types.end()) return std::nullopt;
    return it->second;
  });
  std::map<std::string, std::vector<kairos::persistence::SearchAttributeValue>> by_name;
  for (auto& v : values) by_name[v.name].push_back(v);
  const auto& i = by_name["I"].at(0);
  CHECK(*i.int_value == 42);
  CHECK_FALSE(i.double_value);
  const auto& d = by_name["D"].at(0);
  CHECK(*d.double_value == 2.0);
  CHECK_FALSE(d.int_value);
  const auto& k = by_name["K"].at(0);
  CHECK(*k.text == "2026-01-01T00:00:00Z");
  CHECK_FALSE(k.time_nanos);
  CHECK(k.words.empty());
  const auto& t = by_name["T"].at(0);
  CHECK(t.words == " hello world ");
  CHECK_FALSE(t.text);
  REQUIRE(by_name["L"].size() == 2);
  CHECK(*by_name["L"][1].text == "y");
  const auto& u = by_name["Unknown"].at(0);  // No type: every form.
  CHECK(*u.int_value == 7);
  CHECK(*u.double_value == 7.0);
}
