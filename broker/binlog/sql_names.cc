#include "broker/binlog/sql_names.h"

#include <cctype>
#include <initializer_list>
#include <vector>

namespace sluice::binlog {
namespace {

// Only the statement's head is read: no name of interest lies further in
// than this many tokens (CREATE OR REPLACE UNIQUE INDEX IF NOT EXISTS i
// USING BTREE ON db . t is 14).
constexpr size_t kMaxTokens = 48;

struct Token {
  enum Kind { kWord, kQuoted, kString, kPunct } kind;
  std::string text;  // a word as written; a quoted name without its quotes
};

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  // The next token, or false at the end of the statement (or its head).
  bool Next(Token* t) {
    SkipSpaceAndComments();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '`' || c == '"') return Quoted(c, Token::kQuoted, t);
    if (c == '\'') return Quoted(c, Token::kString, t);
    if (IsWordByte(static_cast<unsigned char>(c))) {
      size_t start = i_;
      while (i_ < s_.size() && IsWordByte(static_cast<unsigned char>(s_[i_]))) ++i_;
      *t = Token{Token::kWord, std::string(s_.substr(start, i_ - start))};
      return true;
    }
    ++i_;
    *t = Token{Token::kPunct, std::string(1, c)};
    return true;
  }

 private:
  void SkipSpaceAndComments() {
    for (;;) {
      while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ >= s_.size()) return;
      std::string_view rest = s_.substr(i_);
      if (rest.starts_with("*/") && versioned_ > 0) {  // the end of /*! ... */
        --versioned_;
        i_ += 2;
      } else if (rest.starts_with("/*!") || rest.starts_with("/*M!")) {
        // Versioned comment: its SQL counts. Skip the marker and version.
        i_ += rest[2] == 'M' ? 4 : 3;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        ++versioned_;
      } else if (rest.starts_with("/*")) {
        size_t end = s_.find("*/", i_ + 2);
        i_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else if (rest[0] == '#' ||
                 (rest.starts_with("--") &&
                  (rest.size() == 2 || std::isspace(static_cast<unsigned char>(rest[2])) ||
                   std::iscntrl(static_cast<unsigned char>(rest[2]))))) {
        size_t end = s_.find('\n', i_);
        i_ = end == std::string_view::npos ? s_.size() : end + 1;
      } else {
        return;
      }
    }
  }

  // A quoted name or string; a doubled quote inside stands for one (and a
  // backslash escapes in strings). An unclosed one runs to the end.
  bool Quoted(char q, Token::Kind kind, Token* t) {
    std::string text;
    ++i_;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == q) {
        if (i_ < s_.size() && s_[i_] == q) {
          text.push_back(q);
          ++i_;
          continue;
        }
        break;
      }
      if (c == '\\' && kind == Token::kString && i_ < s_.size()) c = s_[i_++];
      text.push_back(c);
    }
    *t = Token{kind, std::move(text)};
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  int versioned_ = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view sql) {
    Lexer lexer(sql);
    Token t;
    while (tokens_.size() < kMaxTokens && lexer.Next(&t)) tokens_.push_back(std::move(t));
  }

  // True (and past it) when the next token is the keyword `kw`.
  bool Accept(std::string_view kw) {
    if (!Is(kw)) return false;
    ++at_;
    return true;
  }
  bool Is(std::string_view kw) const {
    if (at_ >= tokens_.size() || tokens_[at_].kind != Token::kWord) return false;
    const std::string& w = tokens_[at_].text;
    if (w.size() != kw.size()) return false;
    for (size_t k = 0; k < w.size(); ++k)
      if (std::toupper(static_cast<unsigned char>(w[k])) != kw[k]) return false;
    return true;
  }
  // Accepts the keywords of `words` in that order, or none of them.
  bool AcceptAll(std::initializer_list<std::string_view> words) {
    size_t save = at_;
    for (auto w : words) {
      if (!Accept(w)) {
        at_ = save;
        return false;
      }
    }
    return true;
  }
  void AcceptAny(std::initializer_list<std::string_view> words) {
    for (bool again = true; again;) {
      again = false;
      for (auto w : words) again = again || Accept(w);
    }
  }
  bool AcceptPunct(char c) {
    if (at_ < tokens_.size() && tokens_[at_].kind == Token::kPunct && tokens_[at_].text[0] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  // An identifier (a word or a quoted name).
  bool Ident(std::string* out) {
    if (at_ >= tokens_.size()) return false;
    const Token& t = tokens_[at_];
    if (t.kind != Token::kWord && t.kind != Token::kQuoted) return false;
    *out = t.text;
    ++at_;
    return true;
  }
  // name or qualifier.name: fills db only when qualified.
  bool Name(std::string* db, std::string* name) {
    std::string first;
    if (!Ident(&first)) return false;
    if (AcceptPunct('.')) {
      std::string second;
      if (!Ident(&second)) return false;
      *db = std::move(first);
      *name = std::move(second);
    } else {
      *name = std::move(first);
    }
    return true;
  }
  // Skips tokens up to and past the keyword `kw` (not past the head).
  bool SkipPast(std::string_view kw) {
    while (at_ < tokens_.size()) {
      if (Accept(kw)) return true;
      ++at_;
    }
    return false;
  }

 private:
  std::vector<Token> tokens_;
  size_t at_ = 0;
};

StatementTarget TableTarget(Parser& p, StatementKind kind, std::string_view default_db) {
  StatementTarget out;
  out.kind = kind;
  std::string db;
  if (p.Name(&db, &out.table)) {
    out.db = db.empty() ? std::string(default_db) : db;
  } else {
    out.db = std::string(default_db);
  }
  return out;
}

StatementTarget DatabaseTarget(Parser& p, std::string_view default_db) {
  StatementTarget out;
  out.kind = StatementKind::kDatabase;
  if (!p.AcceptAll({"IF", "NOT", "EXISTS"})) p.AcceptAll({"IF", "EXISTS"});
  std::string name;
  out.db = p.Ident(&name) ? name : std::string(default_db);
  return out;
}

StatementTarget Create(Parser& p, std::string_view default_db) {
  p.AcceptAll({"OR", "REPLACE"});
  if (p.Accept("DATABASE") || p.Accept("SCHEMA")) return DatabaseTarget(p, default_db);
  p.AcceptAny({"TEMPORARY", "UNIQUE", "FULLTEXT", "SPATIAL"});
  if (p.Accept("TABLE")) {
    p.AcceptAll({"IF", "NOT", "EXISTS"});
    return TableTarget(p, StatementKind::kTable, default_db);
  }
  if (p.Accept("INDEX")) {
    if (p.SkipPast("ON")) return TableTarget(p, StatementKind::kTable, default_db);
  }
  return StatementTarget{StatementKind::kOther, std::string(default_db), ""};
}

StatementTarget Drop(Parser& p, std::string_view default_db) {
  if (p.Accept("DATABASE") || p.Accept("SCHEMA")) return DatabaseTarget(p, default_db);
  p.Accept("TEMPORARY");
  if (p.Accept("TABLE") || p.Accept("TABLES")) {
    p.AcceptAll({"IF", "EXISTS"});
    return TableTarget(p, StatementKind::kTable, default_db);
  }
  if (p.Accept("INDEX")) {
    if (p.SkipPast("ON")) return TableTarget(p, StatementKind::kTable, default_db);
  }
  return StatementTarget{StatementKind::kOther, std::string(default_db), ""};
}

StatementTarget Alter(Parser& p, std::string_view default_db) {
  if (p.Accept("DATABASE") || p.Accept("SCHEMA")) return DatabaseTarget(p, default_db);
  p.AcceptAny({"ONLINE", "IGNORE"});
  if (p.Accept("TABLE")) {
    p.AcceptAll({"IF", "EXISTS"});
    return TableTarget(p, StatementKind::kTable, default_db);
  }
  return StatementTarget{StatementKind::kOther, std::string(default_db), ""};
}

}  // namespace

StatementTarget ParseStatementTarget(std::string_view sql, std::string_view default_db) {
  Parser p(sql);
  if (p.Accept("CREATE")) return Create(p, default_db);
  if (p.Accept("DROP")) return Drop(p, default_db);
  if (p.Accept("ALTER")) return Alter(p, default_db);
  if (p.Accept("RENAME")) {
    if (p.Accept("TABLE") || p.Accept("TABLES"))
      return TableTarget(p, StatementKind::kTable, default_db);
    return StatementTarget{StatementKind::kOther, std::string(default_db), ""};
  }
  if (p.Accept("TRUNCATE")) {
    p.Accept("TABLE");
    return TableTarget(p, StatementKind::kTable, default_db);
  }
  if (p.Accept("INSERT") || p.Accept("REPLACE")) {
    p.AcceptAny({"LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE"});
    p.Accept("INTO");
    return TableTarget(p, StatementKind::kDml, default_db);
  }
  if (p.Accept("UPDATE")) {
    p.AcceptAny({"LOW_PRIORITY", "IGNORE"});
    return TableTarget(p, StatementKind::kDml, default_db);
  }
  if (p.Accept("DELETE")) {
    p.AcceptAny({"LOW_PRIORITY", "QUICK", "IGNORE"});
    if (p.SkipPast("FROM")) return TableTarget(p, StatementKind::kDml, default_db);
    return StatementTarget{StatementKind::kDml, std::string(default_db), ""};
  }
  if (p.Accept("LOAD")) {
    if (p.SkipPast("TABLE")) return TableTarget(p, StatementKind::kDml, default_db);
    return StatementTarget{StatementKind::kDml, std::string(default_db), ""};
  }
  return StatementTarget{StatementKind::kOther, std::string(default_db), ""};
}

bool HasStatement(std::string_view sql) {
  Lexer lexer(sql);
  Token t;
  return lexer.Next(&t);
}

}  // namespace sluice::binlog
