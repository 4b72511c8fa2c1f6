//===- Lexer.h - tokens of the .dnn language --------------------*- C++ -*-===//
#ifndef DNNC_FRONTEND_LEXER_H
#define DNNC_FRONTEND_LEXER_H

#include "dnnc/Frontend/AST.h"

#include <string>
#include <string_view>

namespace dnnc::frontend {

enum class TokenKind {
  Eof, Error, Ident, Int, Float,
  LBrace, RBrace, LParen, RParen, LBracket, RBracket,
  Comma, Colon, Equal, Minus, Dot,
};

struct Token {
  TokenKind kind = TokenKind::Eof;
  std::string text; // identifier spelling, number spelling, or error message
  SourceLoc loc;
};

/// Splits .dnn text into tokens; `#` and `//` start comments to end of line.
class Lexer {
public:
  explicit Lexer(std::string_view text) : text(text) {}
  Token next();

private:
  char peek(size_t ahead = 0) const {
    return pos + ahead < text.size() ? text[pos + ahead] : '\0';
  }
  void advance();
  void skipSpaceAndComments();
  Token lexNumber(SourceLoc loc, bool partOfName);

  std::string_view text;
  size_t pos = 0;
  unsigned line = 1, col = 1;
};

std::string describe(const Token &tok);

} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_LEXER_H
