#include "dnnrt/Manifest.h"

#include <charconv>
#include <cstdlib>
#include <set>

namespace dnnrt {
namespace {

/// Ranks beyond this are certainly a corrupt manifest.
constexpr int64_t kMaxRank = 32;

bool isValidName(const std::string &name) {
  if (name.empty())
    return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok)
      return false;
  }
  return true;
}

bool parseInt64(const std::string &field, int64_t &value) {
  const char *end = field.data() + field.size();
  auto result = std::from_chars(field.data(), end, value);
  return result.ec == std::errc() && result.ptr == end;
}

std::vector<std::string> splitFields(const std::string &line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t space = line.find(' ', start);
    fields.push_back(line.substr(start, space - start));
    if (space == std::string::npos)
      return fields;
    start = space + 1;
  }
}

class ManifestParser {
public:
  explicit ManifestParser(Manifest &out) : out_(out) {}

  bool parse(const std::string &text) {
    size_t start = 0;
    while (start < text.size()) {
      size_t newline = text.find('\n', start);
      std::string line = text.substr(start, newline - start);
      ++lineNumber_;
      start = newline == std::string::npos ? text.size() : newline + 1;
      // The train block's JSON is the rest of its line, spaces and all.
      static const std::string kSpec = "train_spec ";
      if (line.compare(0, kSpec.size(), kSpec) == 0) {
        if (!out_.training.specJson.empty())
          return fail("duplicate 'train_spec' record");
        out_.training.specJson = line.substr(kSpec.size());
        continue;
      }
      if (!line.empty() && !parseLine(splitFields(line)))
        return false;
    }
    return finish();
  }

  const std::string &error() const { return error_; }

private:
  bool fail(const std::string &what) {
    error_ = "line " + std::to_string(lineNumber_) + ": " + what;
    return false;
  }

  bool parseLine(const std::vector<std::string> &fields) {
    for (const std::string &field : fields)
      if (field.empty())
        return fail("empty field (fields are separated by single spaces)");
    const std::string &record = fields[0];
    if (!sawHeader_) {
      if (record != "dnn-manifest" || fields.size() != 2)
        return fail("expected 'dnn-manifest 1' as the first line");
      if (fields[1] != "1")
        return fail("unsupported manifest version '" + fields[1] +
                    "' (this runtime reads version 1)");
      sawHeader_ = true;
      return true;
    }
    if (record == "model")
      return parseModel(fields);
    if (record == "workspace")
      return parseWorkspace(fields);
    if (record == "max_batch")
      return parseMaxBatch(fields);
    if (record == "derived")
      return parseDerived(fields);
    if (record == "flops")
      return parseCounter(fields, "flops", sawFlops_, out_.flopsPerItem);
    if (record == "input")
      return parseTensor(fields, out_.inputs, inputNames_, true);
    if (record == "output")
      return parseTensor(fields, out_.outputs, outputNames_, true);
    if (record == "weight") {
      out_.weightInits.emplace_back();
      return parseTensor(fields, out_.weights, weightNames_, false);
    }
    if (record == "init")
      return parseInit(fields);
    if (record == "train_workspace") {
      out_.hasTraining = true;
      return parseWorkspacePair(fields, out_.training.workspaceBytesPerBatchItem,
                                out_.training.workspaceFixedBytes);
    }
    if (record == "train_max_batch") {
      if (fields.size() != 2 || !parseInt64(fields[1], out_.training.maxBatch) ||
          out_.training.maxBatch < 1)
        return fail("expected 'train_max_batch <n>' with a positive integer");
      return true;
    }
    if (record == "target")
      return parseTensor(fields, out_.training.targets, targetNames_, true);
    if (record == "state")
      return parseTensor(fields, out_.training.states, stateNames_, false);
    return fail("unknown record '" + record + "'");
  }

  bool parseModel(const std::vector<std::string> &fields) {
    if (sawModel_)
      return fail("duplicate 'model' record");
    if (fields.size() != 2 || !isValidName(fields[1]))
      return fail("expected 'model <name>'");
    out_.modelName = fields[1];
    sawModel_ = true;
    return true;
  }

  bool parseWorkspace(const std::vector<std::string> &fields) {
    if (sawWorkspace_)
      return fail("duplicate 'workspace' record");
    if (fields.size() != 3 ||
        !parseInt64(fields[1], out_.workspaceBytesPerBatchItem) ||
        !parseInt64(fields[2], out_.workspaceFixedBytes) ||
        out_.workspaceBytesPerBatchItem < 0 || out_.workspaceFixedBytes < 0)
      return fail("expected 'workspace <bytes_per_batch_item> <fixed_bytes>' "
                  "with non-negative integers");
    sawWorkspace_ = true;
    return true;
  }

  bool parseWorkspacePair(const std::vector<std::string> &fields, int64_t &perItem,
                          int64_t &fixed) {
    if (fields.size() != 3 || !parseInt64(fields[1], perItem) ||
        !parseInt64(fields[2], fixed) || perItem < 0 || fixed < 0)
      return fail("expected '" + fields[0] +
                  " <bytes_per_batch_item> <fixed_bytes>' with non-negative integers");
    return true;
  }
  /// init <weight> uniform|constant <value>, after the weight's record.
  bool parseInit(const std::vector<std::string> &fields) {
    if (fields.size() != 4 || (fields[2] != "uniform" && fields[2] != "constant"))
      return fail("expected 'init <weight> uniform|constant <value>'");
    size_t index = 0;
    while (index < out_.weights.size() && out_.weights[index].name != fields[1])
      ++index;
    if (index == out_.weights.size())
      return fail("init for unknown weight '" + fields[1] + "'");
    char *end = nullptr;
    double value = std::strtod(fields[3].c_str(), &end);
    if (end != fields[3].c_str() + fields[3].size())
      return fail("init value '" + fields[3] + "' is not a number");
    WeightInit &init = out_.weightInits[index];
    init.kind = fields[2] == "uniform" ? WeightInit::Kind::Uniform : WeightInit::Kind::Constant;
    init.value = value;
    return true;
  }
  bool parseMaxBatch(const std::vector<std::string> &fields) {
    if (sawMaxBatch_)
      return fail("duplicate 'max_batch' record");
    if (fields.size() != 2 || !parseInt64(fields[1], out_.maxBatch) || out_.maxBatch < 1)
      return fail("expected 'max_batch <n>' with a positive integer");
    sawMaxBatch_ = true;
    return true;
  }

  bool parseCounter(const std::vector<std::string> &fields, const char *name, bool &seen,
                    int64_t &value) {
    if (seen)
      return fail(std::string("duplicate '") + name + "' record");
    if (fields.size() != 2 || !parseInt64(fields[1], value) || value < 0)
      return fail(std::string("expected '") + name + " <n>' with a non-negative integer");
    seen = true;
    return true;
  }

  bool parseDerived(const std::vector<std::string> &fields) {
    if (sawDerived_)
      return fail("duplicate 'derived' record");
    if (fields.size() != 2 || !parseInt64(fields[1], out_.derivedBytes) || out_.derivedBytes < 0)
      return fail("expected 'derived <bytes>' with a non-negative integer");
    sawDerived_ = true;
    return true;
  }

  bool parseTensor(const std::vector<std::string> &fields,
                   std::vector<ManifestTensor> &list,
                   std::set<std::string> &names, bool batchAllowed) {
    const std::string &kind = fields[0];
    int64_t rank;
    if (fields.size() < 3 || !isValidName(fields[1]) ||
        !parseInt64(fields[2], rank))
      return fail("expected '" + kind + " <name> <rank> <dims...>'");
    ManifestTensor tensor;
    tensor.name = fields[1];
    if (!names.insert(tensor.name).second)
      return fail("duplicate " + kind + " '" + tensor.name + "'");
    if (rank < 0 || rank > kMaxRank ||
        static_cast<int64_t>(fields.size()) - 3 != rank)
      return fail(kind + " '" + tensor.name + "': rank " + fields[2] +
                  " does not match the " + std::to_string(fields.size() - 3) +
                  " dims given");
    for (int64_t d = 0; d < rank; ++d) {
      int64_t dim;
      if (!parseInt64(fields[3 + d], dim))
        return fail(kind + " '" + tensor.name + "': dimension " +
                    std::to_string(d) + " is not an integer");
      bool isBatch = dim == kBatchDim && d == 0 && batchAllowed;
      if (dim <= 0 && !isBatch)
        return fail(
            "dimension " + std::to_string(d) + " of " + kind + " '" +
            tensor.name + "' must be positive" +
            (batchAllowed ? " (or -1 for the batch, as dim 0 only)" : "") +
            ", got " + fields[3 + d]);
      tensor.shape.push_back(dim);
    }
    list.push_back(std::move(tensor));
    return true;
  }

  /// Checks that hold for the whole manifest rather than one line.
  bool finish() {
    const char *missing = !sawHeader_            ? "the 'dnn-manifest 1' line"
                          : !sawModel_           ? "the 'model' record"
                          : !sawWorkspace_       ? "the 'workspace' record"
                          : out_.outputs.empty() ? "an 'output' record"
                                                 : nullptr;
    if (missing) {
      error_ = std::string("missing ") + missing;
      return false;
    }
    if (out_.hasTraining == out_.training.specJson.empty()) {
      error_ = "'train_workspace' and 'train_spec' come together";
      return false;
    }
    if (!out_.hasBatchDim()) {
      for (const ManifestTensor &output : out_.outputs) {
        if (!output.shape.empty() && output.shape[0] == kBatchDim) {
          error_ = "output '" + output.name +
                   "' has a batch dim but no input has one";
          return false;
        }
      }
    }
    return true;
  }

  Manifest &out_;
  std::string error_;
  int lineNumber_ = 0;
  bool sawHeader_ = false;
  bool sawModel_ = false;
  bool sawWorkspace_ = false;
  bool sawMaxBatch_ = false;
  bool sawDerived_ = false;
  bool sawFlops_ = false;
  std::set<std::string> inputNames_, outputNames_, weightNames_, targetNames_, stateNames_;
};

} // namespace

bool Manifest::hasBatchDim() const {
  for (const ManifestTensor &input : inputs)
    if (!input.shape.empty() && input.shape[0] == kBatchDim)
      return true;
  return false;
}

bool parseManifest(const std::string &text, Manifest &out, std::string &error) {
  out = Manifest();
  ManifestParser parser(out);
  if (!parser.parse(text)) {
    error = parser.error();
    return false;
  }
  return true;
}

std::string symbolicShapeToString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0)
      text += ", ";
    text += shape[i] == kBatchDim ? "N" : std::to_string(shape[i]);
  }
  return text + "]";
}

} // namespace dnnrt
