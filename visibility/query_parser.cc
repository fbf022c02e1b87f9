// A recursive-descent parser for the List Filter, with the precedence of
// the MySQL grammar Temporal parses it with: OR < AND < NOT < comparison.
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "kairos/errors.h"
#include "kairos/visibility/query.h"

namespace kairos::visibility {
namespace {

struct Token {
  enum Kind { kEnd, kIdent, kQuotedIdent, kString, kNumber, kOp };
  Kind kind = kEnd;
  std::string text;  // Identifier / string contents, number text, operator.
  std::string upper; // Upper-cased identifier, to recognize keywords.
  size_t end = 0;    // Offset just past the token in the query.
};

bool IsKeyword(const std::string& upper) {
  static const char* const kKeywords[] = {"AND",  "OR",    "NOT",   "IN",    "BETWEEN", "IS",  "NULL",
                                          "TRUE", "FALSE", "LIKE",  "ORDER", "GROUP",   "BY",  "LIMIT",
                                          "ASC",  "DESC",  "OFFSET", "STARTS_WITH", "XOR", "SELECT", "FROM",
                                          "WHERE", "HAVING"};
  for (const char* k : kKeywords)
    if (upper == k) return true;
  return false;
}

class Lexer {
 public:
  explicit Lexer(const std::string& s) : s_(s) {}

  // Returns false on a lexical error (unterminated quote, stray character).
  bool Next(Token* t) {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    *t = Token{};
    if (pos_ >= s_.size()) {
      t->end = s_.size();
      return true;
    }
    char c = s_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80) {
      size_t b = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                                  s_[pos_] == '.' || static_cast<unsigned char>(s_[pos_]) >= 0x80))
        ++pos_;
      t->kind = Token::kIdent;
      t->text = s_.substr(b, pos_ - b);
      for (char ch : t->text) t->upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      t->end = pos_;
      return true;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && pos_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))) {
      size_t b = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '.') {
        ++pos_;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      }
      if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
        size_t save = pos_++;
        if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
        if (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
          while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        } else {
          pos_ = save;
        }
      }
      t->kind = Token::kNumber;
      t->text = s_.substr(b, pos_ - b);
      t->end = pos_;
      return true;
    }
    if (c == '\'' || c == '"' || c == '`') {
      char quote = c;
      ++pos_;
      std::string out;
      while (true) {
        if (pos_ >= s_.size()) {
          t->end = s_.size();
          return false;
        }
        char ch = s_[pos_++];
        if (ch == quote) {
          if (pos_ < s_.size() && s_[pos_] == quote) {
            out += quote;
            ++pos_;
            continue;
          }
          break;
        }
        if (ch == '\\' && quote != '`' && pos_ < s_.size()) {
          char e = s_[pos_++];
          switch (e) {
            case '0': out += '\0'; break;
            case 'b': out += '\b'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'Z': out += '\x1a'; break;
            case '%': out += "\\%"; break;
            case '_': out += "\\_"; break;
            default: out += e; break;
          }
          continue;
        }
        out += ch;
      }
      t->kind = quote == '`' ? Token::kQuotedIdent : Token::kString;
      t->text = std::move(out);
      t->end = pos_;
      return true;
    }
    static const char* const kOps[] = {"<=>", "<=", ">=", "!=", "<>", "&&", "||", "=", "<", ">",
                                       "(",   ")",  ",",  "-",  "+",  "*",  "/",  "%", "!", "~", "^", "&", "|"};
    for (const char* op : kOps) {
      std::string o(op);
      if (s_.compare(pos_, o.size(), o) == 0) {
        pos_ += o.size();
        t->kind = Token::kOp;
        t->text = o;
        t->end = pos_;
        return true;
      }
    }
    ++pos_;
    t->end = pos_;
    t->text = std::string(1, c);
    return false;
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

class Parser {
 public:
  Parser(const std::string& query, size_t prefix) : query_(query), lexer_(query), prefix_(prefix) {}

  grpc::Status Run(ParsedQuery* out) {
    if (!Advance()) return Fail();
    if (!IsKw("ORDER") && !IsKw("GROUP") && tok_.kind != Token::kEnd) {
      if (!ParseOr(&out->where)) return Fail();
    }
    if (IsKw("GROUP")) {
      if (!Advance() || !IsKw("BY") || !Advance()) return Fail();
      while (true) {
        std::string name;
        if (!TakeName(&name)) return Fail();
        out->group_by.push_back(name);
        if (!IsOp(",")) break;
        if (!Advance()) return Fail();
      }
    }
    if (IsKw("ORDER")) {
      if (!Advance() || !IsKw("BY") || !Advance()) return Fail();
      while (true) {
        OrderTerm term;
        if (!TakeName(&term.name)) return Fail();
        if (IsKw("ASC") || IsKw("DESC")) {
          term.desc = IsKw("DESC");
          if (!Advance()) return Fail();
        }
        out->order_by.push_back(term);
        if (!IsOp(",")) break;
        if (!Advance()) return Fail();
      }
    }
    if (IsKw("LIMIT")) {
      out->has_limit = true;
      if (!Advance() || tok_.kind != Token::kNumber || !Advance()) return Fail();
      if (IsOp(",") || IsKw("OFFSET")) {
        if (!Advance() || tok_.kind != Token::kNumber || !Advance()) return Fail();
      }
    }
    if (tok_.kind != Token::kEnd) return Fail();
    return grpc::Status::OK;
  }

 private:
  bool Advance() {
    if (!lexer_.Next(&tok_)) {
      lex_error_ = true;
      return false;
    }
    return true;
  }
  bool IsKw(const char* kw) const { return tok_.kind == Token::kIdent && tok_.upper == kw; }
  bool IsOp(const char* op) const { return tok_.kind == Token::kOp && tok_.text == op; }

  grpc::Status Fail() {
    // Temporal's parser reports the position just past the token it stopped
    // at (counting the statement it wraps the query in), and that token.
    std::string msg = "invalid query: malformed SQL query: syntax error at position " +
                      std::to_string(prefix_ + tok_.end + 1);
    if (tok_.kind != Token::kEnd || lex_error_) {
      std::string near = tok_.kind == Token::kEnd && lex_error_ ? query_.substr(query_.size() ? query_.size() - 1 : 0)
                                                                : tok_.text;
      msg += " near '" + near + "'";
    }
    return errors::InvalidArgument(msg);
  }

  bool TakeName(std::string* name) {
    if (tok_.kind == Token::kQuotedIdent || (tok_.kind == Token::kIdent && !IsKeyword(tok_.upper))) {
      *name = tok_.text;
      return Advance();
    }
    return false;
  }

  bool ParseOr(ExprPtr* out) {
    if (!ParseAnd(out)) return false;
    while (IsKw("OR") || IsOp("||")) {
      if (!Advance()) return false;
      auto e = std::make_unique<Expr>();
      e->kind = Expr::kOr;
      e->left = std::move(*out);
      if (!ParseAnd(&e->right)) return false;
      *out = std::move(e);
    }
    return true;
  }

  bool ParseAnd(ExprPtr* out) {
    if (!ParseNot(out)) return false;
    while (IsKw("AND") || IsOp("&&")) {
      if (!Advance()) return false;
      auto e = std::make_unique<Expr>();
      e->kind = Expr::kAnd;
      e->left = std::move(*out);
      if (!ParseNot(&e->right)) return false;
      *out = std::move(e);
    }
    return true;
  }

  bool ParseNot(ExprPtr* out) {
    if (IsKw("NOT") || IsOp("!")) {
      if (!Advance()) return false;
      auto e = std::make_unique<Expr>();
      e->kind = Expr::kNot;
      if (!ParseNot(&e->left)) return false;
      *out = std::move(e);
      return true;
    }
    return ParsePredicate(out);
  }

  // A value where one is expected: a literal, a bare name, a function.
  bool ParseLiteral(Literal* l) {
    bool negative = false;
    if (IsOp("-") || IsOp("+")) {
      negative = IsOp("-");
      if (!Advance()) return false;
      if (tok_.kind != Token::kNumber) return false;
    }
    switch (tok_.kind) {
      case Token::kString:
        l->kind = Literal::kString;
        l->text = tok_.text;
        return Advance();
      case Token::kNumber: {
        l->text = (negative ? "-" : "") + tok_.text;
        errno = 0;
        char* end = nullptr;
        long long v = std::strtoll(l->text.c_str(), &end, 10);
        if (errno == 0 && end && *end == '\0') {
          l->kind = Literal::kInt;
          l->int_value = v;
        } else {
          l->kind = Literal::kFloat;
          l->float_value = std::strtod(l->text.c_str(), nullptr);
        }
        return Advance();
      }
      case Token::kQuotedIdent:
        l->kind = Literal::kName;
        l->text = tok_.text;
        return Advance();
      case Token::kIdent:
        if (tok_.upper == "TRUE" || tok_.upper == "FALSE") {
          l->kind = Literal::kBool;
          l->bool_value = tok_.upper == "TRUE";
          l->text = tok_.upper == "TRUE" ? "true" : "false";
          return Advance();
        }
        if (tok_.upper == "NULL") {
          l->kind = Literal::kNull;
          l->text = "null";
          return Advance();
        }
        if (IsKeyword(tok_.upper)) return false;
        l->kind = Literal::kName;
        l->text = tok_.text;
        if (!Advance()) return false;
        if (IsOp("(")) {
          l->kind = Literal::kFunc;
          return SkipArgs();
        }
        return true;
      default:
        return false;
    }
  }

  // Skips a function's argument list (already at its '(').
  bool SkipArgs() {
    int depth = 0;
    do {
      if (IsOp("(")) ++depth;
      if (IsOp(")")) --depth;
      if (tok_.kind == Token::kEnd) return false;
      if (!Advance()) return false;
    } while (depth > 0);
    return true;
  }

  bool ParseTuple(std::vector<Literal>* values) {
    if (!IsOp("(") || !Advance()) return false;
    while (true) {
      Literal l;
      if (!ParseLiteral(&l)) return false;
      values->push_back(std::move(l));
      if (IsOp(")")) return Advance();
      if (!IsOp(",") || !Advance()) return false;
    }
  }

  bool ParsePredicate(ExprPtr* out) {
    auto e = std::make_unique<Expr>();
    // The left operand.
    if (IsOp("(")) {
      if (!Advance()) return false;
      e->kind = Expr::kParen;
      if (!ParseOr(&e->left)) return false;
      if (!IsOp(")") || !Advance()) return false;
    } else if (tok_.kind == Token::kQuotedIdent || (tok_.kind == Token::kIdent && !IsKeyword(tok_.upper))) {
      e->kind = Expr::kName;
      e->name = tok_.text;
      if (!Advance()) return false;
      if (IsOp("(")) {
        e->kind = Expr::kFunc;
        if (!SkipArgs()) return false;
      }
    } else {
      Literal l;
      if (!ParseLiteral(&l)) return false;
      e->kind = Expr::kValue;
      e->left_kind = l.kind == Literal::kBool ? "sqlparser.BoolVal"
                     : l.kind == Literal::kNull ? "*sqlparser.NullVal"
                                                : "*sqlparser.SQLVal";
      e->values.push_back(std::move(l));
    }
    // What follows it, if anything.
    bool negated = false;
    if (IsKw("NOT")) {
      negated = true;
      if (!Advance()) return false;
      if (!IsKw("IN") && !IsKw("BETWEEN") && !IsKw("LIKE") && !IsKw("STARTS_WITH")) return false;
    }
    std::string op;
    if (tok_.kind == Token::kOp &&
        (tok_.text == "=" || tok_.text == "!=" || tok_.text == "<>" || tok_.text == "<" || tok_.text == ">" ||
         tok_.text == "<=" || tok_.text == ">=" || tok_.text == "<=>")) {
      op = tok_.text == "<>" ? "!=" : tok_.text;
    } else if (IsKw("IN") || IsKw("LIKE") || IsKw("STARTS_WITH") || IsKw("BETWEEN") || IsKw("IS")) {
      std::string lower;
      for (char c : tok_.upper) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      op = (negated ? "not " : "") + lower;
    } else {
      *out = std::move(e);
      return true;  // A lone operand; the translation refuses it.
    }
    if (!Advance()) return false;
    auto pred = std::make_unique<Expr>();
    pred->op = op;
    if (e->kind != Expr::kName) {
      pred->left_kind = e->kind == Expr::kParen  ? "*sqlparser.ParenExpr"
                        : e->kind == Expr::kFunc ? "*sqlparser.FuncExpr"
                                                 : e->left_kind;
    }
    pred->name = e->name;
    if (op == "in" || op == "not in") {
      pred->kind = Expr::kCompare;
      pred->tuple = true;
      if (!ParseTuple(&pred->values)) return false;
    } else if (op == "between" || op == "not between") {
      pred->kind = Expr::kRange;
      Literal from, to;
      if (!ParseLiteral(&from)) return false;
      if (!IsKw("AND") || !Advance()) return false;
      if (!ParseLiteral(&to)) return false;
      pred->values.push_back(std::move(from));
      pred->values.push_back(std::move(to));
    } else if (op == "is") {
      pred->kind = Expr::kIs;
      bool is_not = false;
      if (IsKw("NOT")) {
        is_not = true;
        if (!Advance()) return false;
      }
      if (IsKw("NULL")) {
        pred->op = is_not ? "is not null" : "is null";
      } else if (IsKw("TRUE") || IsKw("FALSE")) {
        pred->op = std::string(is_not ? "is not " : "is ") + (IsKw("TRUE") ? "true" : "false");
      } else {
        return false;
      }
      if (!Advance()) return false;
    } else {
      pred->kind = Expr::kCompare;
      if (IsOp("(")) {
        pred->tuple = true;
        if (!ParseTuple(&pred->values)) return false;
      } else {
        Literal v;
        if (!ParseLiteral(&v)) return false;
        pred->values.push_back(std::move(v));
      }
    }
    if (!pred->left_kind.empty()) pred->kind = Expr::kBadLeft;
    *out = std::move(pred);
    return true;
  }

  const std::string& query_;
  Lexer lexer_;
  size_t prefix_;
  Token tok_;
  bool lex_error_ = false;
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool StartsWithCi(const std::string& s, const std::string& prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

}  // namespace

grpc::Status ParseQuery(const std::string& query, ParsedQuery* out) {
  *out = ParsedQuery{};
  std::string q = Trim(query);
  if (q.empty()) return grpc::Status::OK;
  bool bare = StartsWithCi(q, "order by") || StartsWithCi(q, "group by");
  // "select * from table1 " (+ "where ") precedes the query in Temporal's parse.
  Parser p(q, bare ? 21 : 27);
  return p.Run(out);
}

std::string FormatLiteral(const Literal& l) {
  switch (l.kind) {
    case Literal::kString: {
      std::string out = "'";
      for (char c : l.text) {
        if (c == '\'') out += "\\'";
        else out += c;
      }
      return out + "'";
    }
    case Literal::kName: return l.text;
    case Literal::kFunc: return l.text + "()";
    default: return l.text;
  }
}

std::string FormatExpr(const Expr& e) {
  switch (e.kind) {
    case Expr::kAnd: return FormatExpr(*e.left) + " and " + FormatExpr(*e.right);
    case Expr::kOr: return FormatExpr(*e.left) + " or " + FormatExpr(*e.right);
    case Expr::kNot: return "not " + FormatExpr(*e.left);
    case Expr::kParen: return "(" + FormatExpr(*e.left) + ")";
    case Expr::kName: return e.name;
    case Expr::kRange:
      return e.name + " " + e.op + " " + FormatLiteral(e.values[0]) + " and " + FormatLiteral(e.values[1]);
    case Expr::kIs: return e.name + " " + e.op;
    case Expr::kCompare: {
      std::string rhs;
      if (e.tuple) {
        rhs = "(";
        for (size_t i = 0; i < e.values.size(); ++i) rhs += (i ? ", " : "") + FormatLiteral(e.values[i]);
        rhs += ")";
      } else {
        rhs = FormatLiteral(e.values[0]);
      }
      return e.name + " " + e.op + " " + rhs;
    }
    default: return e.values.empty() ? e.name : FormatLiteral(e.values[0]);
  }
}

}  // namespace kairos::visibility
