//===- Parser.h - .dnn text to AST ------------------------------*- C++ -*-===//
#ifndef DNNC_FRONTEND_PARSER_H
#define DNNC_FRONTEND_PARSER_H

#include "dnnc/Frontend/AST.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dnnc::frontend {

/// Receives each error with its location; the caller decides how to print.
using ErrorSink = std::function<void(SourceLoc, const std::string &)>;

/// Parses one model. Returns nothing after reporting the first syntax error.
std::optional<Model> parseModel(std::string_view text, const ErrorSink &error);

} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_PARSER_H
