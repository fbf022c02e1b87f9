// Temporal's List Filter: the SQL-like language of visibility queries
// (`WorkflowType = 'Invoice' AND StartTime > '2026-01-01T00:00:00Z'`),
// parsed into a small tree. Parsing knows nothing of search attributes:
// names and values are checked when the tree is translated to SQL
// (query_sql.h). Syntax errors carry Temporal's wording: "malformed SQL
// query: syntax error at position N near 'x'", positions counted as
// Temporal's parser counts them (in "select * from table1 where <query>").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

namespace kairos::visibility {

// A literal as written: a quoted string, a number, a boolean, NULL, or a
// bare name where a value was expected (kept to name it in the error).
struct Literal {
  enum Kind { kString, kInt, kFloat, kBool, kNull, kName, kFunc };
  Kind kind = kString;
  std::string text;  // String contents (unescaped), number text, name.
  int64_t int_value = 0;
  double float_value = 0;
  bool bool_value = false;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    kAnd,         // left AND right
    kOr,          // left OR right
    kNot,         // NOT left
    kParen,       // ( left )
    kCompare,     // name op values[0]; for IN / NOT IN, values is the tuple
    kRange,       // name [NOT] BETWEEN values[0] AND values[1]
    kIs,          // name IS [NOT] NULL
    kName,        // a bare name (an incomplete expression)
    kValue,       // a bare value
    kFunc,        // a function call
    kBadLeft,     // a comparison whose left side is not a name
  };
  Kind kind = kName;
  ExprPtr left, right;
  std::string name;  // Attribute as written, back quotes removed.
  // Lower case as Temporal's parser spells them: "=", "!=", "<", ">", "<=",
  // ">=", "in", "not in", "starts_with", "not starts_with", "like",
  // "not like", "between", "not between", "is null", "is not null", or
  // another operator kept to name it in the error.
  std::string op;
  std::vector<Literal> values;
  bool tuple = false;  // values came as a parenthesized list.
  std::string left_kind;  // For kBadLeft / kValue: Go type of the operand.
};

struct OrderTerm {
  std::string name;
  bool desc = false;
};

struct ParsedQuery {
  ExprPtr where;  // Null when the query has no condition.
  std::vector<std::string> group_by;
  std::vector<OrderTerm> order_by;
  bool has_limit = false;
};

// Parses a List Filter. On error returns INVALID_ARGUMENT "invalid query:
// malformed SQL query: ...".
grpc::Status ParseQuery(const std::string& query, ParsedQuery* out);

// The expression as Temporal prints it in messages: `WorkflowId = 'a'`.
std::string FormatExpr(const Expr& e);
std::string FormatLiteral(const Literal& l);

}  // namespace kairos::visibility
