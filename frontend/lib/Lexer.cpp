//===- Lexer.cpp - tokens of the .dnn language --------------------------===//
#include "Lexer.h"

#include <cctype>

using namespace dnnc::frontend;

void Lexer::advance() {
  if (pos >= text.size())
    return;
  if (text[pos] == '\n') {
    ++line;
    col = 1;
  } else {
    ++col;
  }
  ++pos;
}

void Lexer::skipSpaceAndComments() {
  for (;;) {
    char c = peek();
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';') {
      advance();
    } else if (c == '#' || (c == '/' && peek(1) == '/')) {
      while (peek() != '\n' && peek() != '\0')
        advance();
    } else {
      return;
    }
  }
}

Token Lexer::lexNumber(SourceLoc loc, bool partOfName) {
  size_t start = pos;
  bool isFloat = false;
  while (std::isdigit((unsigned char)peek()))
    advance();
  // In a dotted name (features.1.conv.0.0) every number is one piece.
  if (partOfName)
    return {TokenKind::Int, std::string(text.substr(start, pos - start)), loc};
  if (peek() == '.' && std::isdigit((unsigned char)peek(1))) {
    isFloat = true;
    advance();
    while (std::isdigit((unsigned char)peek()))
      advance();
  }
  if (peek() == 'e' || peek() == 'E') {
    size_t digit = (peek(1) == '+' || peek(1) == '-') ? 2 : 1;
    if (std::isdigit((unsigned char)peek(digit))) {
      isFloat = true;
      for (size_t i = 0; i < digit; ++i)
        advance();
      while (std::isdigit((unsigned char)peek()))
        advance();
    }
  }
  if (std::isalpha((unsigned char)peek()) || peek() == '_')
    return {TokenKind::Error,
            "malformed number '" + std::string(text.substr(start, pos - start + 1)) + "'",
            loc};
  return {isFloat ? TokenKind::Float : TokenKind::Int,
          std::string(text.substr(start, pos - start)), loc};
}

Token Lexer::next() {
  skipSpaceAndComments();
  SourceLoc loc{line, col};
  char c = peek();
  if (c == '\0')
    return {TokenKind::Eof, "", loc};
  if (std::isalpha((unsigned char)c) || c == '_') {
    size_t start = pos;
    while (std::isalnum((unsigned char)peek()) || peek() == '_')
      advance();
    return {TokenKind::Ident, std::string(text.substr(start, pos - start)), loc};
  }
  // A '.' right after a name or number joins a dotted name (layer1.0.conv1);
  // elsewhere ".5" is a number.
  bool afterName = pos > 0 && (std::isalnum((unsigned char)text[pos - 1]) || text[pos - 1] == '_');
  if (c == '.' && afterName) {
    advance();
    return {TokenKind::Dot, ".", loc};
  }
  if (std::isdigit((unsigned char)c) || (c == '.' && std::isdigit((unsigned char)peek(1)))) {
    bool partOfName = pos > 1 && text[pos - 1] == '.' &&
                      (std::isalnum((unsigned char)text[pos - 2]) || text[pos - 2] == '_');
    return lexNumber(loc, partOfName);
  }
  TokenKind kind;
  switch (c) {
  case '{': kind = TokenKind::LBrace; break;
  case '}': kind = TokenKind::RBrace; break;
  case '(': kind = TokenKind::LParen; break;
  case ')': kind = TokenKind::RParen; break;
  case '[': kind = TokenKind::LBracket; break;
  case ']': kind = TokenKind::RBracket; break;
  case ',': kind = TokenKind::Comma; break;
  case ':': kind = TokenKind::Colon; break;
  case '=': kind = TokenKind::Equal; break;
  case '-': kind = TokenKind::Minus; break;
  default: {
    std::string shown = std::isprint((unsigned char)c)
                            ? std::string("'") + c + "'"
                            : "byte " + std::to_string((unsigned char)c);
    advance();
    return {TokenKind::Error, "unexpected character " + shown, loc};
  }
  }
  advance();
  return {kind, std::string(1, c), loc};
}

std::string dnnc::frontend::describe(const Token &tok) {
  switch (tok.kind) {
  case TokenKind::Eof: return "end of file";
  case TokenKind::Ident: return "'" + tok.text + "'";
  case TokenKind::Int:
  case TokenKind::Float: return "number " + tok.text;
  default: return "'" + tok.text + "'";
  }
}
