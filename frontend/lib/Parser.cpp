//===- Parser.cpp - recursive-descent parser for .dnn -------------------===//
//
// Grammar (docs/language.md has the full reference):
//   file     := 'model' IDENT '{' stmt* '}'
//   stmt     := 'input' IDENT ':' [IDENT] '[' dim (',' dim)* ']'
//             | 'output' name (',' name)*
//             | 'sequential' name '(' name ')' '{' (name '=' call | call)* '}'
//             | name (',' name)* '=' call
//             | 'train' '{' train_stmt* '}'
//   train_stmt := 'target' IDENT ':' [IDENT] '[' dim (',' dim)* ']'
//             | IDENT '=' call | IDENT '=' value | call
//   name     := IDENT ('.' (IDENT | INT))*       e.g. layer1.0.conv1
//   call     := IDENT '(' [arg (',' arg)*] ')'
//   arg      := name | IDENT '=' value
//   value    := ['-'] number | IDENT | '(' value, ... ')' | '[' value, ... ']'
//
//===----------------------------------------------------------------------===//
#include "dnnc/Frontend/Parser.h"
#include "Lexer.h"

using namespace dnnc::frontend;

namespace {

class Parser {
public:
  Parser(std::string_view text, const ErrorSink &error)
      : lexer(text), error(error) {
    cur = lexer.next();
    ahead = lexer.next();
  }

  std::optional<Model> parseFile();

private:
  void consume() {
    cur = ahead;
    ahead = lexer.next();
  }
  bool fail(const std::string &message) {
    if (!failed)
      error(cur.loc, cur.kind == TokenKind::Error ? cur.text : message);
    failed = true;
    return false;
  }
  bool expect(TokenKind kind, const char *what) {
    if (cur.kind != kind)
      return fail(std::string("expected ") + what + ", found " + describe(cur));
    consume();
    return true;
  }
  bool isKeyword(const char *word) const {
    return cur.kind == TokenKind::Ident && cur.text == word;
  }
  bool parseIdent(std::string &out, SourceLoc &loc, const char *what) {
    if (cur.kind != TokenKind::Ident)
      return fail(std::string("expected ") + what + ", found " + describe(cur));
    out = cur.text;
    loc = cur.loc;
    consume();
    return true;
  }

  /// A dotted name: the pieces must touch (no spaces around the dots).
  bool parseName(std::string &out, SourceLoc &loc, const char *what) {
    if (!parseIdent(out, loc, what))
      return false;
    while (cur.kind == TokenKind::Dot) {
      consume();
      if (cur.kind != TokenKind::Ident && cur.kind != TokenKind::Int)
        return fail("expected a name or number after '.' in '" + out + ".'");
      out += "." + cur.text;
      consume();
    }
    return true;
  }
  bool parseStatement(Model &model);
  bool parseInput(Model &model);
  bool parseOutput(Model &model);
  bool parseSequential(Model &model);
  bool parseTrain(Model &model);
  bool parseShape(InputDecl &decl);
  bool parseCall(LayerCall &call, bool allowInputs);
  bool parseValue(AttrValue &value);

  Lexer lexer;
  const ErrorSink &error;
  Token cur, ahead;
  bool failed = false;
};

std::optional<Model> Parser::parseFile() {
  Model model;
  if (!isKeyword("model"))
    return fail("expected 'model <name> { ... }', found " + describe(cur)), std::nullopt;
  model.loc = cur.loc;
  consume();
  SourceLoc nameLoc;
  if (!parseIdent(model.name, nameLoc, "a model name") ||
      !expect(TokenKind::LBrace, "'{' after the model name"))
    return std::nullopt;
  while (cur.kind != TokenKind::RBrace) {
    if (cur.kind == TokenKind::Eof)
      return fail("missing '}' at the end of model '" + model.name + "'"), std::nullopt;
    if (!parseStatement(model))
      return std::nullopt;
  }
  model.closeLoc = cur.loc;
  consume();
  if (cur.kind != TokenKind::Eof)
    return fail("expected end of file after the model, found " + describe(cur)),
           std::nullopt;
  return model;
}

bool Parser::parseStatement(Model &model) {
  if (isKeyword("input") && ahead.kind == TokenKind::Ident)
    return parseInput(model);
  if (isKeyword("output") && ahead.kind == TokenKind::Ident)
    return parseOutput(model);
  if (isKeyword("sequential") && ahead.kind == TokenKind::Ident)
    return parseSequential(model);
  if (isKeyword("train") && ahead.kind == TokenKind::LBrace)
    return parseTrain(model);
  LayerDef def;
  if (!parseName(def.name, def.nameLoc, "a statement (input, output, sequential or 'name = layer(...)')"))
    return false;
  // `y, h, c = lstm(...)` names every output of a layer.
  while (cur.kind == TokenKind::Comma) {
    consume();
    NameRef extra;
    if (!parseName(extra.name, extra.loc, "a name for the next output of the layer"))
      return false;
    def.moreOutputs.push_back(extra);
  }
  if (!expect(TokenKind::Equal, def.moreOutputs.empty() ? "'=' after the layer name"
                                                        : "'=' after the output names"))
    return false;
  if (!parseCall(def.call, /*allowInputs=*/true))
    return false;
  model.layers.push_back(std::move(def));
  return true;
}

bool Parser::parseInput(Model &model) {
  consume(); // input
  InputDecl decl;
  if (!parseIdent(decl.name, decl.loc, "an input name") || !parseShape(decl))
    return false;
  model.inputs.push_back(std::move(decl));
  return true;
}

/// `: [dtype] '[' dim, ... ']'` after an input or target name.
bool Parser::parseShape(InputDecl &decl) {
  if (!expect(TokenKind::Colon, "':' and a shape after the name"))
    return false;
  decl.dtype = "f32";
  decl.dtypeLoc = cur.loc;
  if (cur.kind == TokenKind::Ident) {
    decl.dtype = cur.text;
    consume();
  }
  if (!expect(TokenKind::LBracket, "'[' to start the shape"))
    return false;
  do {
    Dim dim;
    dim.loc = cur.loc;
    if (cur.kind == TokenKind::Ident) {
      dim.symbol = cur.text;
    } else if (cur.kind == TokenKind::Int) {
      dim.size = std::stoll(cur.text);
    } else {
      return fail("expected a dimension (an integer, or a name like N for the batch), found " +
                  describe(cur));
    }
    consume();
    decl.dims.push_back(dim);
    if (cur.kind != TokenKind::Comma)
      break;
    consume();
  } while (true);
  return expect(TokenKind::RBracket, "',' or ']' in the shape");
}

/// train { target y: [N]  loss = ...(...)  optimizer = ...(...)
///         batch_size = 64  normalize(x, ...) }
bool Parser::parseTrain(Model &model) {
  TrainBlock block;
  block.loc = cur.loc;
  consume(); // train
  consume(); // {
  while (cur.kind != TokenKind::RBrace) {
    if (cur.kind == TokenKind::Eof)
      return fail("missing '}' at the end of the train block");
    if (isKeyword("target") && ahead.kind == TokenKind::Ident) {
      consume();
      InputDecl decl;
      if (!parseIdent(decl.name, decl.loc, "a target name") || !parseShape(decl))
        return false;
      block.targets.push_back(std::move(decl));
      continue;
    }
    if (cur.kind == TokenKind::Ident && ahead.kind == TokenKind::LParen) {
      LayerCall call;
      if (!parseCall(call, /*allowInputs=*/true))
        return false;
      block.normalizers.push_back(std::move(call));
      continue;
    }
    std::string name;
    SourceLoc nameLoc;
    if (!parseIdent(name, nameLoc, "a train statement (target, loss = ..., optimizer = ..., "
                                   "schedule = ..., batch_size = ..., epochs = ..., normalize(...))") ||
        !expect(TokenKind::Equal, "'=' after the setting's name"))
      return false;
    if (cur.kind == TokenKind::Ident && ahead.kind == TokenKind::LParen) {
      LayerDef def;
      def.name = name;
      def.nameLoc = nameLoc;
      if (!parseCall(def.call, /*allowInputs=*/true))
        return false;
      block.calls.push_back(std::move(def));
    } else {
      Setting setting{name, nameLoc, {}};
      if (!parseValue(setting.value))
        return false;
      block.settings.push_back(std::move(setting));
    }
  }
  consume();
  if (!model.train.empty()) {
    error(block.loc, "a model has at most one train block (the first is at line " +
                         std::to_string(model.train.front().loc.line) + ")");
    failed = true;
    return false;
  }
  model.train.push_back(std::move(block));
  return true;
}

bool Parser::parseOutput(Model &model) {
  consume(); // output
  do {
    NameRef ref;
    if (!parseName(ref.name, ref.loc, "an output name"))
      return false;
    model.outputs.push_back(ref);
    if (cur.kind != TokenKind::Comma)
      return true;
    consume();
  } while (true);
}

bool Parser::parseSequential(Model &model) {
  consume(); // sequential
  SequentialBlock block;
  if (!parseName(block.name, block.nameLoc, "a name for the sequential block") ||
      !expect(TokenKind::LParen, "'(' and the block's input") ||
      !parseName(block.input.name, block.input.loc, "the block's input") ||
      !expect(TokenKind::RParen, "')' after the block's input") ||
      !expect(TokenKind::LBrace, "'{' to start the block"))
    return false;
  while (cur.kind != TokenKind::RBrace) {
    LayerDef def;
    if (cur.kind == TokenKind::Ident &&
        (ahead.kind == TokenKind::Equal || ahead.kind == TokenKind::Dot)) {
      if (!parseName(def.name, def.nameLoc, "a layer name") ||
          !expect(TokenKind::Equal, "'=' after the layer name"))
        return false;
    }
    if (cur.kind == TokenKind::Eof)
      return fail("missing '}' at the end of sequential block '" + block.name + "'");
    if (!parseCall(def.call, /*allowInputs=*/false))
      return false;
    if (def.name.empty())
      def.nameLoc = def.call.kindLoc;
    block.layers.push_back(std::move(def));
  }
  consume();
  if (block.layers.empty()) {
    error(block.nameLoc, "sequential block '" + block.name + "' has no layers");
    failed = true;
    return false;
  }
  model.blocks.push_back(std::move(block));
  return true;
}

bool Parser::parseCall(LayerCall &call, bool allowInputs) {
  if (!parseIdent(call.kind, call.kindLoc, "a layer kind such as dense or conv2d") ||
      !expect(TokenKind::LParen, "'(' after the layer kind"))
    return false;
  while (cur.kind != TokenKind::RParen) {
    if (cur.kind != TokenKind::Ident)
      return fail("expected an input name or 'attribute=value', found " + describe(cur));
    if (ahead.kind == TokenKind::Equal) {
      KeywordArg arg;
      arg.name = cur.text;
      arg.loc = cur.loc;
      consume();
      consume();
      if (!parseValue(arg.value))
        return false;
      call.kwargs.push_back(std::move(arg));
    } else {
      if (!allowInputs)
        return fail("layers in a sequential block take their input from the layer "
                    "before; write only attributes here");
      if (!call.kwargs.empty())
        return fail("input '" + cur.text + "' must come before the attributes");
      NameRef ref;
      if (!parseName(ref.name, ref.loc, "an input name"))
        return false;
      call.inputs.push_back(ref);
    }
    if (cur.kind == TokenKind::Comma) {
      consume();
    } else if (cur.kind != TokenKind::RParen) {
      return fail("expected ',' or ')' in the arguments of '" + call.kind +
                  "', found " + describe(cur));
    }
  }
  consume();
  return true;
}

bool Parser::parseValue(AttrValue &value) {
  value.loc = cur.loc;
  bool negative = false;
  if (cur.kind == TokenKind::Minus) {
    negative = true;
    consume();
    if (cur.kind != TokenKind::Int && cur.kind != TokenKind::Float)
      return fail("expected a number after '-', found " + describe(cur));
  }
  switch (cur.kind) {
  case TokenKind::Int:
    value.kind = AttrValue::Kind::Int;
    try {
      value.intValue = std::stoll(cur.text);
    } catch (...) {
      return fail("integer " + cur.text + " is too large");
    }
    if (negative)
      value.intValue = -value.intValue;
    break;
  case TokenKind::Float:
    value.kind = AttrValue::Kind::Float;
    value.floatValue = std::stod(cur.text) * (negative ? -1.0 : 1.0);
    break;
  case TokenKind::Ident:
    if (cur.text == "true" || cur.text == "false") {
      value.kind = AttrValue::Kind::Bool;
      value.boolValue = cur.text == "true";
    } else {
      value.kind = AttrValue::Kind::Ident;
      value.ident = cur.text;
    }
    break;
  case TokenKind::LParen:
  case TokenKind::LBracket: {
    TokenKind close = cur.kind == TokenKind::LParen ? TokenKind::RParen : TokenKind::RBracket;
    value.kind = AttrValue::Kind::Tuple;
    consume();
    while (cur.kind != close) {
      AttrValue element;
      if (!parseValue(element))
        return false;
      value.elements.push_back(std::move(element));
      if (cur.kind == TokenKind::Comma)
        consume();
      else if (cur.kind != close)
        return fail("expected ',' or a closing bracket in the list, found " + describe(cur));
    }
    break;
  }
  default:
    return fail("expected a value (number, name, true/false or a list), found " +
                describe(cur));
  }
  consume();
  return true;
}

} // namespace

std::optional<Model> dnnc::frontend::parseModel(std::string_view text,
                                                const ErrorSink &error) {
  return Parser(text, error).parseFile();
}
