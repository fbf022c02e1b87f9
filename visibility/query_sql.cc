#include "kairos/visibility/query_sql.h"

#include <cstdio>

#include "kairos/errors.h"
#include "kairos/visibility/query.h"
#include "kairos/visibility/values.h"
#include "temporal/api/enums/v1/workflow.pb.h"

namespace kairos::visibility {
namespace {

constexpr const char* kInvalid = "invalid expression";
constexpr const char* kNotSupported = "operation is not supported";

// A converter error: the message after "invalid query: ".
struct QueryError {
  std::string message;
};

struct Column {
  std::string alias;  // As written.
  std::string field;  // Resolved attribute name.
  enums::IndexedValueType type = enums::INDEXED_VALUE_TYPE_UNSPECIFIED;
  std::string system;  // Column expression of a system attribute; empty: a search-attribute value.
};

const char* SystemColumn(const std::string& field) {
  static const std::pair<const char*, const char*> kColumns[] = {
      {"WorkflowId", "v.workflow_id"},
      {"RunId", "v.run_id"},
      {"WorkflowType", "v.workflow_type"},
      {"TaskQueue", "v.task_queue"},
      {"ExecutionStatus", "v.status"},
      {"StartTime", "v.start_time_nanos"},
      {"ExecutionTime", "v.execution_time_nanos"},
      {"CloseTime", "v.close_order"},
      {"HistoryLength", "v.history_length"},
      {"ExecutionDuration", "v.execution_duration"},
      {"StateTransitionCount", "v.state_transition_count"},
      {"HistorySizeBytes", "v.history_size_bytes"},
      {"ParentWorkflowId", "v.parent_workflow_id"},
      {"ParentRunId", "v.parent_run_id"},
      {"RootWorkflowId", "v.root_workflow_id"},
      {"RootRunId", "v.root_run_id"},
      {"TemporalNamespaceDivision", "v.namespace_division"},
  };
  for (const auto& [name, column] : kColumns)
    if (field == name) return column;
  return nullptr;
}

// A standalone Nexus operation's attributes, over its carrier run's row:
// the operation's id, endpoint and operation are the run's id, task queue
// and type; its service and request id are kept with its search attributes;
// its status is the run's, named as the operation's statuses are. The names
// a workflow's rows have and an operation's have not match nothing (as on
// Temporal, which accepts them).
struct NexusColumn {
  const char* name;
  enums::IndexedValueType type;
  const char* system;  // Column expression; null: the search attribute `field`.
  const char* field;
};

constexpr const char* kNexusStatus =
    "(CASE v.status WHEN 1 THEN 'Running' WHEN 2 THEN 'Completed' WHEN 3 THEN 'Failed' WHEN 4 THEN 'Canceled' "
    "WHEN 5 THEN 'Terminated' WHEN 7 THEN 'TimedOut' ELSE 'Unspecified' END)";

const NexusColumn* FindNexusColumn(const std::string& name) {
  static const NexusColumn kColumns[] = {
      {"OperationId", enums::INDEXED_VALUE_TYPE_KEYWORD, "v.workflow_id", "OperationId"},
      {"Endpoint", enums::INDEXED_VALUE_TYPE_KEYWORD, "v.task_queue", "Endpoint"},
      {"Operation", enums::INDEXED_VALUE_TYPE_KEYWORD, "v.workflow_type", "Operation"},
      {"Service", enums::INDEXED_VALUE_TYPE_KEYWORD, nullptr, kNexusServiceAttribute},
      {"RequestId", enums::INDEXED_VALUE_TYPE_KEYWORD, nullptr, kNexusRequestIdAttribute},
      {"ExecutionStatus", enums::INDEXED_VALUE_TYPE_KEYWORD, kNexusStatus, "ExecutionStatus"},
      {"WorkflowType", enums::INDEXED_VALUE_TYPE_KEYWORD, "''", "WorkflowType"},
      {"TaskQueue", enums::INDEXED_VALUE_TYPE_KEYWORD, "''", "TaskQueue"},
      {"HistoryLength", enums::INDEXED_VALUE_TYPE_INT, "0", "HistoryLength"},
      {"HistorySizeBytes", enums::INDEXED_VALUE_TYPE_INT, "0", "HistorySizeBytes"},
      {"ParentWorkflowId", enums::INDEXED_VALUE_TYPE_KEYWORD, "NULL", "ParentWorkflowId"},
      {"ParentRunId", enums::INDEXED_VALUE_TYPE_KEYWORD, "NULL", "ParentRunId"},
      {"RootWorkflowId", enums::INDEXED_VALUE_TYPE_KEYWORD, "NULL", "RootWorkflowId"},
      {"RootRunId", enums::INDEXED_VALUE_TYPE_KEYWORD, "NULL", "RootRunId"},
  };
  for (const auto& c : kColumns)
    if (name == c.name) return &c;
  return nullptr;
}

std::string GoFloat(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

class Translator {
 public:
  Translator(const TypeMap& custom, QueryTarget target) : custom_(custom), target_(target) {}

  bool seen_division = false;
  std::vector<persistence::SqlValue> params;

  std::string Convert(const Expr& e) {
    switch (e.kind) {
      case Expr::kAnd:
      case Expr::kOr: {
        // Parameters are bound in the order the text holds them: left first.
        bool positive = positive_;
        if (e.kind == Expr::kOr) positive_ = false;
        std::string left = Convert(*e.left);
        std::string right = Convert(*e.right);
        positive_ = positive;
        return "(" + left + (e.kind == Expr::kAnd ? ") AND (" : ") OR (") + right + ")";
      }
      case Expr::kNot: {
        bool positive = positive_;
        positive_ = false;
        std::string inner = Convert(*e.left);
        positive_ = positive;
        return "NOT (" + inner + ")";
      }
      case Expr::kParen: return "(" + Convert(*e.left) + ")";
      case Expr::kCompare: return Compare(e);
      case Expr::kRange: return Range(e);
      case Expr::kIs: return Is(e);
      case Expr::kFunc: throw QueryError{std::string(kNotSupported) + ": function expression"};
      case Expr::kName: throw QueryError{std::string(kInvalid) + ": incomplete expression"};
      case Expr::kValue:
        throw QueryError{std::string(kNotSupported) + ": expression of type " + e.left_kind};
      case Expr::kBadLeft:
        if (!IsComparisonOp(e.op) && e.op != "between" && e.op != "not between" && e.op.rfind("is", 0) != 0)
          throw QueryError{std::string(kInvalid) + ": invalid operator '" + e.op + "' in `" + FormatExpr(e) + "`"};
        throw QueryError{std::string(kInvalid) + ": must be a column name but was " + e.left_kind};
    }
    throw QueryError{std::string(kNotSupported) + ": unknown expression"};
  }

  Column Resolve(const std::string& alias) {
    Column c;
    c.alias = alias;
    if (target_ == QueryTarget::kNexusOperations) {
      if (const NexusColumn* n = FindNexusColumn(alias)) {
        c.field = n->field;
        c.type = n->type;
        if (n->system) c.system = n->system;
        return c;
      }
    }
    auto lookup = [&](const std::string& name) -> bool {
      if (auto it = SystemAttributes().find(name); it != SystemAttributes().end()) {
        c.field = name;
        c.type = it->second;
        return true;
      }
      if (auto it = PredefinedAttributes().find(name); it != PredefinedAttributes().end()) {
        c.field = name;
        c.type = it->second;
        return true;
      }
      return false;
    };
    bool mappable = !SystemAttributes().contains(alias) && !PredefinedAttributes().contains(alias);
    bool found = false;
    if (mappable) {
      if (auto it = custom_.find(alias); it != custom_.end()) {
        c.field = alias;
        c.type = it->second;
        found = true;
      }
    }
    if (!found) found = lookup(alias);
    if (!found) {
      const std::string prefix = "Temporal";
      std::string bare = alias.rfind(prefix, 0) == 0 ? alias.substr(prefix.size()) : alias;
      if (bare == "ScheduleId") found = lookup("WorkflowId");
      else if (alias.rfind(prefix, 0) == 0) found = lookup(bare);
      else found = lookup(prefix + alias);
    }
    if (!found && target_ == QueryTarget::kNexusOperations) throw QueryError{"invalid search attribute: " + alias};
    if (!found) throw QueryError{std::string(kInvalid) + ": column name '" + alias + "' is not a valid search attribute"};
    if (c.field == "TemporalNamespaceDivision") seen_division = true;
    if (const char* col = SystemColumn(c.field)) c.system = col;
    return c;
  }

  // The column expression, binding what it needs: a custom or predefined
  // attribute's (first) value from the run's attribute column.
  std::string ColumnExpr(const Column& c) {
    if (!c.system.empty()) return c.system;
    if (Addressable(c.field)) {
      params.emplace_back("$.\"" + c.field + "\"[0]");
      return "json_extract(v.search_attributes, ?)";
    }
    return "(SELECT e.value FROM " + Items(c) + " LIMIT 1)";
  }

  // The run's values of the attribute as a table `e` (column `value`): the
  // items of its array in the attribute column.
  std::string Items(const Column& c) {
    if (Addressable(c.field)) {
      params.emplace_back("$.\"" + c.field + "\"");
      return "json_each(v.search_attributes, ?) e";
    }
    params.emplace_back(c.field);
    return "json_each((SELECT o.value FROM json_each(v.search_attributes) o WHERE o.key = ?)) e";
  }

  // SQLite's JSON paths quote a key in double quotes, without escapes.
  static bool Addressable(const std::string& name) { return name.find('"') == std::string::npos; }

 private:
  static bool IsComparisonOp(const std::string& op) {
    return op == "=" || op == "!=" || op == "<" || op == ">" || op == "<=" || op == ">=" || op == "in" ||
           op == "not in" || op == "starts_with" || op == "not starts_with";
  }

  [[noreturn]] static void TypeError(const Column& c, const std::string& value, const std::string& go_type) {
    throw QueryError{std::string(kInvalid) + ": invalid value type for search attribute " + c.alias + " of type " +
                     TypeName(c.type) + ": " + value + " (type: " + go_type + ")"};
  }

  // A literal as the attribute's type wants it.
  persistence::SqlValue Value(const Column& c, const Literal& l) {
    switch (l.kind) {
      case Literal::kName:
        throw QueryError{std::string(kNotSupported) +
                         ": column name on the right side of comparison expression (did you forget to quote '" +
                         l.text + "'?)"};
      case Literal::kFunc: throw QueryError{std::string(kNotSupported) + ": nested func"};
      case Literal::kNull: throw QueryError{std::string(kInvalid) + ": unexpected value type *sqlparser.NullVal"};
      case Literal::kBool: return static_cast<int64_t>(l.bool_value ? 1 : 0);
      default: break;
    }
    const bool is_string = l.kind == Literal::kString;
    const std::string go_value = is_string ? "\"" + l.text + "\"" : l.text;
    const std::string go_type = is_string ? "string" : l.kind == Literal::kInt ? "int64" : "float64";
    if (c.field == "ExecutionStatus" && target_ == QueryTarget::kWorkflows) {
      if (l.kind == Literal::kInt) return l.int_value;
      if (is_string) {
        if (auto s = ParseStatusName(l.text)) return static_cast<int64_t>(*s);
        throw QueryError{std::string(kInvalid) + ": invalid ExecutionStatus value '" + l.text + "'"};
      }
      throw QueryError{std::string(kInvalid) + ": unexpected value type float64 for search attribute " + c.alias};
    }
    if (c.field == "ExecutionDuration") {
      if (l.kind == Literal::kInt) return l.int_value;
      if (l.kind == Literal::kFloat) return l.float_value;
      if (auto d = ParseDuration(l.text)) return *d;
      throw QueryError{"invalid value for search attribute " + c.alias + ": " + l.text + " (invalid duration)"};
    }
    switch (c.type) {
      case enums::INDEXED_VALUE_TYPE_DATETIME:
        if (l.kind == Literal::kInt) return l.int_value;
        if (is_string) {
          if (auto t = ParseRfc3339(l.text)) return *t;
          throw QueryError{std::string(kInvalid) + ": unable to parse datetime '" + l.text + "'"};
        }
        throw QueryError{std::string(kInvalid) + ": unexpected value type float64 for search attribute " + c.alias};
      case enums::INDEXED_VALUE_TYPE_INT:
      case enums::INDEXED_VALUE_TYPE_DOUBLE:
        if (l.kind == Literal::kInt) return l.int_value;
        if (l.kind == Literal::kFloat) return l.float_value;
        TypeError(c, go_value, go_type);
      case enums::INDEXED_VALUE_TYPE_BOOL:
        TypeError(c, l.kind == Literal::kFloat ? GoFloat(l.float_value) : go_value, go_type);
      default:
        if (is_string) return l.text;
        TypeError(c, l.kind == Literal::kFloat ? GoFloat(l.float_value) : go_value, go_type);
    }
  }

  std::string Placeholders(const Column& c, const std::vector<Literal>& values) {
    std::string out = "(";
    for (size_t i = 0; i < values.size(); ++i) {
      params.push_back(Value(c, values[i]));
      out += i ? ", ?" : "?";
    }
    return out + ")";
  }

  std::string Compare(const Expr& e) {
    if (!IsComparisonOp(e.op))
      throw QueryError{std::string(kInvalid) + ": invalid operator '" + e.op + "' in `" + FormatExpr(e) + "`"};
    Column c = Resolve(e.name);
    if (e.tuple && e.op != "in" && e.op != "not in")
      throw QueryError{std::string(kInvalid) + ": unexpected value type sqlparser.ValTuple"};
    if (!e.tuple && (e.op == "in" || e.op == "not in"))
      throw QueryError{std::string(kInvalid) + ": unexpected value type for operator " + e.op};
    // Values are checked before the operator, as Temporal does.
    for (const auto& l : e.values) (void)Value(c, l);
    std::string driver = Driver(c, e);
    if (!driver.empty()) return driver + " AND " + CompareChecked(c, e);
    return CompareChecked(c, e);
  }

  // A condition every match must meet anyway, that SQLite can start from:
  // the runs holding one of the keywords, found through the value index
  // instead of reading every run of the namespace. Only where the
  // comparison must hold for the whole query (not under OR or NOT).
  std::string Driver(const Column& c, const Expr& e) {
    if (!positive_ || !c.system.empty()) return "";
    if ((c.type == enums::INDEXED_VALUE_TYPE_KEYWORD || c.type == enums::INDEXED_VALUE_TYPE_KEYWORD_LIST) &&
        (e.op == "=" || e.op == "in")) {
      params.emplace_back(c.field);
      return std::string(kRunsWhere) + "a.value IN " + Placeholders(c, e.values) + ")";
    }
    // Numbers and times are indexed too (partial indexes of migration 5).
    if (IsOrdered(c.type) && (e.op == "=" || e.op == "<" || e.op == ">" || e.op == "<=" || e.op == ">=")) {
      params.emplace_back(c.field);
      params.push_back(Value(c, e.values[0]));
      return std::string(kRunsWhere) + "a.value " + e.op + " ?)";
    }
    return "";
  }

  static bool IsOrdered(enums::IndexedValueType t) {
    return t == enums::INDEXED_VALUE_TYPE_INT || t == enums::INDEXED_VALUE_TYPE_DOUBLE ||
           t == enums::INDEXED_VALUE_TYPE_DATETIME;
  }

  // The runs of the namespace whose value of one attribute (the next
  // parameter) meets a condition appended by the caller, found in the table
  // of values clustered by value.
  static constexpr const char* kRunsWhere =
      "v.id IN (SELECT a.run FROM visibility_values a "
      "WHERE a.namespace_id = ?1 AND a.name = ? AND ";

  std::string CompareChecked(const Column& c, const Expr& e) {    if (c.type == enums::INDEXED_VALUE_TYPE_KEYWORD_LIST) return ListCompare(c, e);
    if (c.type == enums::INDEXED_VALUE_TYPE_TEXT) return TextCompare(c, e);
    if ((e.op == "starts_with" || e.op == "not starts_with") && c.type != enums::INDEXED_VALUE_TYPE_KEYWORD) {
      std::string upper = e.op == "starts_with" ? "STARTS_WITH" : "NOT STARTS_WITH";
      throw QueryError{std::string(kNotSupported) + ": operator '" + upper + "' not supported for " +
                       TypeName(c.type) + " type search attribute '" + c.alias + "'"};
    }
    std::string col = ColumnExpr(c);
    if (e.op == "in" || e.op == "not in") return col + (e.op == "in" ? " IN " : " NOT IN ") + Placeholders(c, e.values);
    if (e.op == "starts_with" || e.op == "not starts_with") {
      auto v = Value(c, e.values[0]);
      params.push_back(v);
      params.push_back(v);
      return "substr(" + col + ", 1, length(?)) " + (e.op == "starts_with" ? "=" : "!=") + " ?";
    }
    params.push_back(Value(c, e.values[0]));
    return col + " " + e.op + " ?";
  }

  std::string ListCompare(const Column& c, const Expr& e) {
    bool in = e.op == "=" || e.op == "in";
    if (!in && e.op != "!=" && e.op != "not in")
      throw QueryError{std::string(kInvalid) + ": operator '" + e.op +
                       "' not supported for KeywordList type search attribute in `" + FormatExpr(e) + "`"};
    std::string items = Items(c);
    std::string values = Placeholders(c, e.values);
    return std::string(in ? "EXISTS" : "NOT EXISTS") + " (SELECT 1 FROM " + items + " WHERE e.value IN " + values +
           ")";
  }

  std::string TextCompare(const Column& c, const Expr& e) {
    if (e.op != "=" && e.op != "!=")
      throw QueryError{std::string(kInvalid) + ": operator '" + e.op +
                       "' not supported for Text type search attribute in `" + FormatExpr(e) + "`"};
    auto tokens = Tokens(e.values[0].text);
    if (tokens.empty())
      throw QueryError{std::string(kInvalid) + ": unexpected value for Text type search attribute (no tokens found in " +
                       FormatLiteral(e.values[0]) + ")"};
    std::string items = Items(c);
    std::string any;
    for (const auto& t : tokens) {
      params.emplace_back(" " + t + " ");
      any += (any.empty() ? "" : " OR ") + std::string("instr(e.value, ?) > 0");
    }
    return std::string(e.op == "=" ? "EXISTS" : "NOT EXISTS") + " (SELECT 1 FROM " + items + " WHERE " + any + ")";
  }

  std::string Range(const Expr& e) {
    Column c = Resolve(e.name);
    if (c.type != enums::INDEXED_VALUE_TYPE_DATETIME && c.type != enums::INDEXED_VALUE_TYPE_DOUBLE &&
        c.type != enums::INDEXED_VALUE_TYPE_INT && c.type != enums::INDEXED_VALUE_TYPE_KEYWORD)
      throw QueryError{std::string(kInvalid) + ": cannot do range condition on search attribute '" + c.alias +
                       "' of type " + TypeName(c.type)};
    auto from = Value(c, e.values[0]);
    auto to = Value(c, e.values[1]);
    std::string driver;
    if (positive_ && c.system.empty() && IsOrdered(c.type) && e.op == "between") {
      params.emplace_back(c.field);
      params.push_back(from);
      params.push_back(to);
      driver = std::string(kRunsWhere) + "a.value BETWEEN ? AND ?) AND ";
    }
    std::string col = ColumnExpr(c);
    params.push_back(from);
    params.push_back(to);
    return driver + col + (e.op == "between" ? " BETWEEN ? AND ?" : " NOT BETWEEN ? AND ?");
  }

  std::string Is(const Expr& e) {
    Column c = Resolve(e.name);
    if (e.op != "is null" && e.op != "is not null")
      throw QueryError{std::string(kInvalid) + ": 'IS' operator can only be used with 'NULL' or 'NOT NULL'"};
    bool null = e.op == "is null";
    if (c.field == "CloseTime") return null ? "v.close_time_nanos = 0" : "v.close_time_nanos != 0";
    if (!c.system.empty()) return c.system + (null ? " IS NULL" : " IS NOT NULL");
    return std::string(null ? "NOT EXISTS" : "EXISTS") + " (SELECT 1 FROM " + Items(c) + ")";
  }

  const TypeMap& custom_;
  QueryTarget target_;
  bool positive_ = true;  // Converting a conjunct of the whole query.
};

bool GroupByAllowed(const std::string& field) {
  return field == "ExecutionStatus" || field == "TemporalNamespaceDivision" ||
         field.rfind("TemporalLowCardinalityKeyword", 0) == 0;
}

}  // namespace

std::string StatusName(int status) {
  switch (status) {
    case 1: return "Running";
    case 2: return "Completed";
    case 3: return "Failed";
    case 4: return "Canceled";
    case 5: return "Terminated";
    case 6: return "ContinuedAsNew";
    case 7: return "TimedOut";
    case 8: return "Paused";
    default: return "Unspecified";
  }
}

std::optional<int> ParseStatusName(const std::string& name) {
  for (int s = 0; s <= 8; ++s) {
    if (name == StatusName(s)) return s;
  }
  temporal::api::enums::v1::WorkflowExecutionStatus v;
  if (temporal::api::enums::v1::WorkflowExecutionStatus_Parse(name, &v)) return static_cast<int>(v);
  return std::nullopt;
}

grpc::Status TranslateQuery(const std::string& query, const TypeMap& custom, QueryUse use, TranslatedQuery* out,
                            QueryTarget target) {
  *out = TranslatedQuery{};
  ParsedQuery parsed;
  if (auto st = ParseQuery(query, &parsed); !st.ok()) return st;
  try {
    if (!parsed.order_by.empty()) throw QueryError{std::string(kNotSupported) + ": 'ORDER BY' clause"};
    if (parsed.has_limit) throw QueryError{std::string(kNotSupported) + ": 'LIMIT' clause"};
    Translator t(custom, target);
    std::string where;
    if (parsed.where) where = "(" + t.Convert(*parsed.where) + ")";
    if (parsed.group_by.size() > 1)
      throw QueryError{std::string(kNotSupported) + ": 'GROUP BY' clause supports only a single field"};
    for (const auto& name : parsed.group_by) {
      Column c = t.Resolve(name);
      if (!GroupByAllowed(c.field))
        throw QueryError{std::string(kNotSupported) + ": 'GROUP BY' clause is not supported for search attribute " +
                         c.alias};
      if (c.system.empty())
        throw QueryError{std::string(kNotSupported) + ": 'GROUP BY' clause is not supported for search attribute " +
                         c.alias};
      out->group_by = c.field;
      out->group_column = c.system;
      out->group_type = c.type;
    }
    // (Temporal lists operations whatever the grouping.)
    if (use == QueryUse::kList && !out->group_by.empty() && target == QueryTarget::kWorkflows)
      throw QueryError{std::string(kNotSupported) + ": 'GROUP BY' clause"};
    if (!t.seen_division) where += std::string(where.empty() ? "" : " AND ") + "v.namespace_division IS NULL";
    out->filter.where = std::move(where);
    out->filter.params = std::move(t.params);
  } catch (const QueryError& e) {
    return errors::InvalidArgument("invalid query: " + e.message);
  }
  return grpc::Status::OK;
}

}  // namespace kairos::visibility
