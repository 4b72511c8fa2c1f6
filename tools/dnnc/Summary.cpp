//===- Summary.cpp - the per-layer table of dnnc --summary --------------===//
#include "Summary.h"

#include "dnnc/IR/Cost.h"
#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/ShapeFormat.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/Support/Format.h"

#include <map>
#include <vector>

using namespace mlir;
using namespace dnnc;

namespace {

struct Row {
  std::string name, ops, shape;
  int64_t params = 0, flops = 0;
  bool shapeKnown = false;
};

/// The layer a weight belongs to: its location is NameLoc(<layer>.<param>)
/// around the layer's own NameLoc.
std::string layerOfWeight(dnn::WeightOp weight) {
  if (auto outer = weight.getLoc().dyn_cast<NameLoc>())
    if (auto layer = outer.getChildLoc().dyn_cast<NameLoc>())
      return layer.getName().str();
  return weight.getName().rsplit('.').first.str();
}

/// Whether a result of `op` leaves its layer (is read by another layer or
/// returned): the first such result is the layer's output.
bool leavesLayer(Operation *op, StringRef layer) {
  for (Operation *user : op->getResult(0).getUsers())
    if (isa<ReturnOp>(user) || dnn::getLayerName(user) != layer)
      return true;
  return false;
}

std::string grouped(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

} // namespace

void dnnc::printSummary(ModuleOp module, llvm::raw_ostream &os) {
  std::vector<Row> rows;
  std::map<std::string, size_t> rowOf;
  std::map<std::string, int64_t> paramsOfLayer;
  for (FuncOp func : module.getOps<FuncOp>()) {
    os << "Model: " << func.getName() << "\n";
    func.walk([&](Operation *op) {
      if (auto weight = dyn_cast<dnn::WeightOp>(op)) {
        auto shape = weight.getType().cast<RankedTensorType>().getShape();
        paramsOfLayer[layerOfWeight(weight)] += dnn::elementsPerItem(shape);
        return;
      }
      if (op->getDialect()->getNamespace() != "dnn")
        return;
      std::string layer = dnn::getLayerName(op).str();
      auto [it, inserted] = rowOf.insert({layer, rows.size()});
      if (inserted)
        rows.push_back({layer, "", "", 0, 0});
      Row &row = rows[it->second];
      std::string opName = op->getName().stripDialect().str();
      SmallVector<StringRef, 4> seenOps;
      StringRef(row.ops).split(seenOps, '+');
      if (!llvm::is_contained(seenOps, opName))
        row.ops += (row.ops.empty() ? "" : "+") + opName;
      if (!row.shapeKnown) {
        row.shape =
            dnn::formatShape(op->getResult(0).getType().cast<RankedTensorType>().getShape());
        row.shapeKnown = leavesLayer(op, layer);
      }
      row.flops += dnn::flopsPerItem(op);
    });
  }
  int64_t totalParams = 0, totalFlops = 0;
  for (Row &row : rows) {
    row.params = paramsOfLayer[row.name];
    totalParams += row.params;
    totalFlops += row.flops;
  }
  size_t nameWidth = 5, opsWidth = 2, shapeWidth = 12;
  for (const Row &row : rows) {
    nameWidth = std::max(nameWidth, row.name.size());
    opsWidth = std::max(opsWidth, row.ops.size());
    shapeWidth = std::max(shapeWidth, row.shape.size());
  }
  auto line = [&](StringRef name, StringRef ops, StringRef shape, StringRef params,
                  StringRef flops) {
    os << llvm::left_justify(name, nameWidth + 2) << llvm::left_justify(ops, opsWidth + 2)
       << llvm::left_justify(shape, shapeWidth + 2) << llvm::right_justify(params, 12)
       << llvm::right_justify(flops, 16) << "\n";
  };
  std::string rule(nameWidth + opsWidth + shapeWidth + 6 + 28, '-');
  os << rule << "\n";
  line("Layer", "Op", "Output shape", "Params", "FLOPs/item");
  os << rule << "\n";
  for (const Row &row : rows)
    line(row.name, row.ops, row.shape, grouped(row.params), grouped(row.flops));
  os << rule << "\n"
     << "Total params: " << grouped(totalParams) << " ("
     << llvm::format("%.2f", totalParams * 4.0 / (1024.0 * 1024.0)) << " MiB as float32)\n"
     << "Total FLOPs per batch item: " << grouped(totalFlops) << "\n";
}
