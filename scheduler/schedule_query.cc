// The query of ListSchedules: Temporal's List Filter (parsed by the
// visibility library) evaluated against schedules in memory. As on Temporal,
// a query may name `TemporalSchedulePaused` and the schedule's custom search
// attributes, nothing else.
#include "schedule_query.h"

#include <cstdlib>

#include "kairos/errors.h"

namespace kairos::scheduler {
namespace {

namespace vis = kairos::visibility;

// A search-attribute value as its JSON payload holds it.
struct Value {
  enum Kind { kNone, kString, kNumber, kBool, kList } kind = kNone;
  std::string text;
  double number = 0;
  bool flag = false;
  std::vector<std::string> items;
};

std::string Unquote(const std::string& s, size_t* pos) {
  std::string out;
  for (++*pos; *pos < s.size() && s[*pos] != '"'; ++*pos) {
    if (s[*pos] == '\\' && *pos + 1 < s.size()) ++*pos;
    out += s[*pos];
  }
  ++*pos;
  return out;
}

Value Decode(const std::string& json) {
  Value v;
  size_t pos = json.find_first_not_of(" \t\n");
  if (pos == std::string::npos) return v;
  if (json[pos] == '"') {
    v.kind = Value::kString;
    v.text = Unquote(json, &pos);
  } else if (json[pos] == '[') {
    v.kind = Value::kList;
    while ((pos = json.find('"', pos)) != std::string::npos) v.items.push_back(Unquote(json, &pos));
  } else if (json.compare(pos, 4, "true") == 0 || json.compare(pos, 5, "false") == 0) {
    v.kind = Value::kBool;
    v.flag = json[pos] == 't';
  } else {
    v.kind = Value::kNumber;
    v.number = std::strtod(json.c_str() + pos, nullptr);
  }
  return v;
}

bool LiteralEquals(const Value& v, const vis::Literal& l) {
  switch (v.kind) {
    case Value::kString: return l.kind == vis::Literal::kString && v.text == l.text;
    case Value::kList:
      for (const auto& item : v.items)
        if (l.kind == vis::Literal::kString && item == l.text) return true;
      return false;
    case Value::kBool: return l.kind == vis::Literal::kBool && v.flag == l.bool_value;
    case Value::kNumber:
      return (l.kind == vis::Literal::kInt && v.number == static_cast<double>(l.int_value)) ||
             (l.kind == vis::Literal::kFloat && v.number == l.float_value);
    case Value::kNone: return false;
  }
  return false;
}

int Compare(const Value& v, const vis::Literal& l) {
  double other = l.kind == vis::Literal::kInt ? static_cast<double>(l.int_value) : l.float_value;
  if (v.kind == Value::kNumber) return v.number < other ? -1 : v.number > other ? 1 : 0;
  return v.text < l.text ? -1 : v.text > l.text ? 1 : 0;
}

class Evaluator {
 public:
  explicit Evaluator(const records::ScheduleRecord& rec) : rec_(rec) {}

  grpc::Status Eval(const vis::Expr& e, bool* out) {
    switch (e.kind) {
      case vis::Expr::kAnd:
      case vis::Expr::kOr: {
        bool a = false, b = false;
        if (auto st = Eval(*e.left, &a); !st.ok()) return st;
        if (auto st = Eval(*e.right, &b); !st.ok()) return st;
        *out = e.kind == vis::Expr::kAnd ? a && b : a || b;
        return grpc::Status::OK;
      }
      case vis::Expr::kNot:
      case vis::Expr::kParen: {
        if (auto st = Eval(*e.left, out); !st.ok()) return st;
        if (e.kind == vis::Expr::kNot) *out = !*out;
        return grpc::Status::OK;
      }
      case vis::Expr::kCompare:
      case vis::Expr::kIs:
        return Leaf(e, out);
      default:
        return errors::InvalidArgument("invalid query: unsupported expression " + vis::FormatExpr(e));
    }
  }

 private:
  grpc::Status Lookup(const std::string& name, Value* v) {
    if (name == "TemporalSchedulePaused") {
      v->kind = Value::kBool;
      v->flag = rec_.schedule().state().paused();
      return grpc::Status::OK;
    }
    const auto& fields = rec_.search_attributes().indexed_fields();
    auto it = fields.find(name);
    if (it != fields.end()) {
      *v = Decode(it->second.data());
      return grpc::Status::OK;
    }
    known_ = false;
    return grpc::Status::OK;
  }

  grpc::Status Leaf(const vis::Expr& e, bool* out) {
    Value v;
    known_ = true;
    if (auto st = Lookup(e.name, &v); !st.ok()) return st;
    if (e.kind == vis::Expr::kIs) {
      *out = (v.kind == Value::kNone) == (e.op == "is null");
      return grpc::Status::OK;
    }
    if (e.values.empty()) return errors::InvalidArgument("invalid query: " + vis::FormatExpr(e));
    const auto& l = e.values[0];
    if (e.op == "=" || e.op == "!=") {
      *out = LiteralEquals(v, l) == (e.op == "=");
    } else if (e.op == "in" || e.op == "not in") {
      bool any = false;
      for (const auto& item : e.values) any |= LiteralEquals(v, item);
      *out = any == (e.op == "in");
    } else if (e.op == "starts_with" || e.op == "not starts_with") {
      *out = (v.kind == Value::kString && v.text.starts_with(l.text)) == (e.op == "starts_with");
    } else if (e.op == "<" || e.op == "<=" || e.op == ">" || e.op == ">=") {
      int c = Compare(v, l);
      *out = v.kind != Value::kNone && (e.op == "<" ? c < 0 : e.op == "<=" ? c <= 0 : e.op == ">" ? c > 0 : c >= 0);
    } else {
      return errors::InvalidArgument("invalid query: operator '" + e.op + "' is not supported for schedules");
    }
    // A schedule without the attribute matches no comparison (as on SQL
    // visibility, where a missing value is NULL).
    if (!known_ || v.kind == Value::kNone) *out = false;
    return grpc::Status::OK;
  }

  const records::ScheduleRecord& rec_;
  bool known_ = true;
};

}  // namespace

grpc::Status ParseScheduleQuery(const std::string& query, visibility::ParsedQuery* out) {
  if (auto st = visibility::ParseQuery(query, out); !st.ok()) return st;
  if (!out->group_by.empty() || !out->order_by.empty() || out->has_limit)
    return errors::InvalidArgument("invalid query: ListSchedules supports a filter only");
  return grpc::Status::OK;
}

grpc::Status MatchesQuery(const visibility::ParsedQuery& query, const records::ScheduleRecord& rec, bool* match) {
  *match = true;
  if (!query.where) return grpc::Status::OK;
  return Evaluator(rec).Eval(*query.where, match);
}

}  // namespace kairos::scheduler
