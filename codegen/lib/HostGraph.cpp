//===- HostGraph.cpp - the call sequence as an LLVM-dialect module ------===//
//
// The host side of model.so is a straight-line function: for each kernel it
// fills halide_buffer_t descriptors (dense, Halide's reversed dimension order,
// the batch extent taken from the `batch` argument) and calls the kernel,
// returning the first non-zero Halide status.
//
//===----------------------------------------------------------------------===//
#include "HostGraph.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Host.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

using namespace mlir;
using namespace dnnc::codegen;

namespace {

// halide_buffer_t field numbers (HalideRuntime.h, Halide 14).
enum BufferField { kDevice, kDeviceInterface, kHost, kFlags, kType, kDimensions, kDim, kPadding };
// halide_type_t {code = float (2), bits = 32, lanes = 1} read as one little-endian i32.
constexpr int32_t kFloat32TypeWord = 2 | (32 << 8) | (1 << 16);

class GraphEmitter {
public:
  GraphEmitter(MLIRContext &ctx, const ModelPlan &plan, Location loc)
      : plan(plan), loc(loc), b(&ctx) {
    i8 = IntegerType::get(&ctx, 8);
    i32 = IntegerType::get(&ctx, 32);
    i64 = IntegerType::get(&ctx, 64);
    i8Ptr = LLVM::LLVMPointerType::get(i8);
    f32PtrPtr = LLVM::LLVMPointerType::get(LLVM::LLVMPointerType::get(Float32Type::get(&ctx)));
    dimType = LLVM::LLVMStructType::getLiteral(&ctx, {i32, i32, i32, i32});
    bufferType = LLVM::LLVMStructType::getLiteral(
        &ctx, {i64, i8Ptr, i8Ptr, i64, i32, i32, LLVM::LLVMPointerType::get(dimType), i8Ptr});
  }

  OwningOpRef<ModuleOp> emit();

private:
  Value i32Const(int64_t v) {
    return b.create<LLVM::ConstantOp>(loc, i32, b.getI32IntegerAttr(v));
  }
  Value i64Const(int64_t v) {
    return b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(v));
  }
  Value fieldPtr(Value base, Type fieldType, ArrayRef<int64_t> path) {
    SmallVector<Value, 3> indices;
    for (int64_t i : path)
      indices.push_back(i32Const(i));
    return b.create<LLVM::GEPOp>(loc, LLVM::LLVMPointerType::get(fieldType), base, indices);
  }
  void store(Value value, Value base, Type fieldType, ArrayRef<int64_t> path) {
    b.create<LLVM::StoreOp>(loc, value, fieldPtr(base, fieldType, path));
  }
  Value hostPointer(const TensorRef &ref, Value workspace, Value batch, Value weights,
                    Value inputs, Value outputs);
  Value makeBuffer(const TensorRef &ref, Value host, Value batch32);
  void declareKernel(const KernelCall &call, ModuleOp module);

  const ModelPlan &plan;
  Location loc;
  OpBuilder b;
  Type i8, i32, i64, i8Ptr, f32PtrPtr;
  LLVM::LLVMStructType dimType, bufferType;
};

Value GraphEmitter::hostPointer(const TensorRef &ref, Value workspace, Value batch,
                                Value weights, Value inputs, Value outputs) {
  if (ref.kind == TensorRef::Kind::Workspace) {
    Value offset = b.create<LLVM::MulOp>(loc, batch, i64Const(ref.offset));
    return b.create<LLVM::GEPOp>(loc, i8Ptr, workspace, ValueRange{offset});
  }
  Value table = ref.kind == TensorRef::Kind::Input    ? inputs
                : ref.kind == TensorRef::Kind::Weight ? weights
                                                      : outputs;
  Value slot = b.create<LLVM::GEPOp>(loc, f32PtrPtr, table, ValueRange{i64Const(ref.index)});
  Value pointer = b.create<LLVM::LoadOp>(loc, slot);
  return b.create<LLVM::BitcastOp>(loc, i8Ptr, pointer);
}

Value GraphEmitter::makeBuffer(const TensorRef &ref, Value host, Value batch32) {
  int rank = ref.shape.size();
  Value one = i32Const(1);
  Value buffer = b.create<LLVM::AllocaOp>(loc, LLVM::LLVMPointerType::get(bufferType), one, 8);
  Value dims = b.create<LLVM::AllocaOp>(loc, LLVM::LLVMPointerType::get(dimType),
                                        i32Const(std::max(rank, 1)), 8);
  Value null = b.create<LLVM::NullOp>(loc, i8Ptr);
  store(i64Const(0), buffer, i64, {0, kDevice});
  store(null, buffer, i8Ptr, {0, kDeviceInterface});
  store(host, buffer, i8Ptr, {0, kHost});
  store(i64Const(0), buffer, i64, {0, kFlags});
  store(i32Const(kFloat32TypeWord), buffer, i32, {0, kType});
  store(i32Const(rank), buffer, i32, {0, kDimensions});
  store(dims, buffer, LLVM::LLVMPointerType::get(dimType), {0, kDim});
  store(null, buffer, i8Ptr, {0, kPadding});
  // Halide's dimension 0 is the innermost (last IR) dimension, stride 1.
  int64_t stride = 1;
  for (int d = 0; d < rank; ++d) {
    int64_t extent = ref.shape[rank - 1 - d];
    Value dim = b.create<LLVM::GEPOp>(loc, LLVM::LLVMPointerType::get(dimType), dims,
                                      ValueRange{i32Const(d)});
    store(i32Const(0), dim, i32, {0, 0});
    store(extent < 0 ? batch32 : i32Const(extent), dim, i32, {0, 1});
    store(i32Const(stride), dim, i32, {0, 2});
    store(i32Const(0), dim, i32, {0, 3});
    stride *= extent < 0 ? 1 : extent;
  }
  return buffer;
}

void GraphEmitter::declareKernel(const KernelCall &call, ModuleOp module) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type, 6> params(call.args.size() + 1, LLVM::LLVMPointerType::get(bufferType));
  b.create<LLVM::LLVMFuncOp>(loc, call.symbol, LLVM::LLVMFunctionType::get(i32, params));
}

OwningOpRef<ModuleOp> GraphEmitter::emit() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  std::string manifest = manifestText(plan);
  manifest.push_back('\0');
  b.create<LLVM::GlobalOp>(loc, LLVM::LLVMArrayType::get(i8, manifest.size()),
                           /*isConstant=*/true, LLVM::Linkage::External,
                           "dnn_model_manifest", b.getStringAttr(manifest));

  auto runType = LLVM::LLVMFunctionType::get(i32, {i8Ptr, i64, f32PtrPtr, f32PtrPtr, f32PtrPtr});
  auto run = b.create<LLVM::LLVMFuncOp>(loc, "dnn_model_graph_run", runType);
  for (const KernelCall &call : plan.calls)
    declareKernel(call, *module);

  Block *entry = run.addEntryBlock();
  Value workspace = entry->getArgument(0), batch = entry->getArgument(1),
        weights = entry->getArgument(2), inputs = entry->getArgument(3),
        outputs = entry->getArgument(4);
  Block *failBlock = new Block();
  failBlock->addArgument(i32, loc);
  b.setInsertionPointToStart(entry);
  Value batch32 = b.create<LLVM::TruncOp>(loc, i32, batch);
  for (const KernelCall &call : plan.calls) {
    SmallVector<Value, 6> buffers;
    for (const TensorRef &arg : call.args)
      buffers.push_back(makeBuffer(
          arg, hostPointer(arg, workspace, batch, weights, inputs, outputs), batch32));
    buffers.push_back(makeBuffer(
        call.result, hostPointer(call.result, workspace, batch, weights, inputs, outputs),
        batch32));
    Value status = b.create<LLVM::CallOp>(loc, TypeRange{i32}, call.symbol, buffers)
                       .getResult(0);
    Value failed = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::ne, status, i32Const(0));
    Block *next = new Block();
    run.getBody().push_back(next);
    b.create<LLVM::CondBrOp>(loc, failed, failBlock, ValueRange{status}, next, ValueRange{});
    b.setInsertionPointToStart(next);
  }
  b.create<LLVM::ReturnOp>(loc, ValueRange{i32Const(0)});
  run.getBody().push_back(failBlock);
  b.setInsertionPointToStart(failBlock);
  b.create<LLVM::ReturnOp>(loc, ValueRange{failBlock->getArgument(0)});
  return module;
}

} // namespace

OwningOpRef<ModuleOp> dnnc::codegen::buildHostGraph(MLIRContext &ctx, const ModelPlan &plan,
                                                     Location loc) {
  ctx.getOrLoadDialect<LLVM::LLVMDialect>();
  return GraphEmitter(ctx, plan, loc).emit();
}

std::unique_ptr<llvm::Module> dnnc::codegen::translateHostGraph(ModuleOp hostModule,
                                                                llvm::LLVMContext &llvmContext) {
  registerLLVMDialectTranslation(*hostModule->getContext());
  return translateModuleToLLVMIR(hostModule, llvmContext, "dnn_host_graph");
}

LogicalResult dnnc::codegen::emitObjectFile(llvm::Module &module, const std::string &path,
                                            std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return failure();
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, "generic", "", llvm::TargetOptions(), llvm::Reloc::PIC_));
  module.setTargetTriple(triple);
  module.setDataLayout(machine->createDataLayout());
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot write '" + path + "': " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager passes;
  if (machine->addPassesToEmitFile(passes, out, nullptr, llvm::CGFT_ObjectFile)) {
    error = "the host target cannot emit object files";
    return failure();
  }
  passes.run(module);
  out.flush();
  return success();
}
