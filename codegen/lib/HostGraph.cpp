//===- HostGraph.cpp - the call sequence as an LLVM-dialect module ------===//
//
// The host side of model.so: for each program of the plan a function that,
// for each kernel call, fills halide_buffer_t descriptors (Halide's reversed
// dimension order, the batch extent taken from the `batch` argument, strides
// and offsets of slices and loop iterations) and calls the kernel, returning
// the first non-zero Halide status.
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

#include <set>

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
    i1 = IntegerType::get(&ctx, 1);
    i8Ptr = LLVM::LLVMPointerType::get(i8);
    f32PtrPtr = LLVM::LLVMPointerType::get(LLVM::LLVMPointerType::get(Float32Type::get(&ctx)));
    dimType = LLVM::LLVMStructType::getLiteral(&ctx, {i32, i32, i32, i32});
    bufferType = LLVM::LLVMStructType::getLiteral(
        &ctx, {i64, i8Ptr, i8Ptr, i64, i32, i32, LLVM::LLVMPointerType::get(dimType), i8Ptr});
  }

  OwningOpRef<ModuleOp> emit();

private:
  /// The pointers a program's function receives.
  struct Frame {
    Value workspace, batch, batch32, weights, inputs, outputs, derived, states;
    int64_t fixedBytes = 0; // the workspace's fixed region, before the batch-scaled one
    std::vector<Value> buffers, dims; // halide_buffer_t and dim arrays, reused by every call
    Block *failBlock = nullptr;
    LLVM::LLVMFuncOp func;
  };

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
  Value hostPointer(const TensorRef &ref, const Frame &f, Value iteration);
  void fillBuffer(const TensorRef &ref, Value host, Value buffer, Value dims, const Frame &f);
  void declareKernels(ModuleOp module);
  void emitCall(const KernelCall &call, Frame &f, Value iteration);
  void emitProgram(const Program &program, Frame &f);
  void allocateBuffers(const Program &program, Frame &f);
  void finish(Frame &f);

  const ModelPlan &plan;
  Location loc;
  OpBuilder b;
  Type i1, i8, i32, i64, i8Ptr, f32PtrPtr;
  LLVM::LLVMStructType dimType, bufferType;
};

Value GraphEmitter::hostPointer(const TensorRef &ref, const Frame &f, Value iteration) {
  Value base;
  if (ref.kind == TensorRef::Kind::Workspace) {
    Value offset = ref.fixed ? i64Const(ref.offset)
                             : b.create<LLVM::AddOp>(
                                   loc, i64Const(f.fixedBytes),
                                   b.create<LLVM::MulOp>(loc, f.batch, i64Const(ref.offset)));
    base = b.create<LLVM::GEPOp>(loc, i8Ptr, f.workspace, ValueRange{offset});
  } else if (ref.kind == TensorRef::Kind::Derived) {
    base = b.create<LLVM::GEPOp>(loc, i8Ptr, f.derived, ValueRange{i64Const(ref.offset)});
  } else {
    Value table = ref.kind == TensorRef::Kind::Input    ? f.inputs
                  : ref.kind == TensorRef::Kind::Weight ? f.weights
                  : ref.kind == TensorRef::Kind::State  ? f.states
                                                        : f.outputs;
    Value slot = b.create<LLVM::GEPOp>(loc, f32PtrPtr, table, ValueRange{i64Const(ref.index)});
    Value pointer = b.create<LLVM::LoadOp>(loc, slot);
    base = b.create<LLVM::BitcastOp>(loc, i8Ptr, pointer);
  }
  if (ref.byteOffset != 0)
    base = b.create<LLVM::GEPOp>(loc, i8Ptr, base, ValueRange{i64Const(ref.byteOffset)});
  if (ref.iterationBytes != 0) {
    Value step = b.create<LLVM::MulOp>(loc, iteration, i64Const(ref.iterationBytes));
    base = b.create<LLVM::GEPOp>(loc, i8Ptr, base, ValueRange{step});
  }
  return base;
}

void GraphEmitter::fillBuffer(const TensorRef &ref, Value host, Value buffer, Value dims,
                              const Frame &f) {
  int rank = ref.shape.size();
  Value null = b.create<LLVM::NullOp>(loc, i8Ptr);
  store(i64Const(0), buffer, i64, {0, kDevice});
  store(null, buffer, i8Ptr, {0, kDeviceInterface});
  store(host, buffer, i8Ptr, {0, kHost});
  store(i64Const(0), buffer, i64, {0, kFlags});
  store(i32Const(kFloat32TypeWord), buffer, i32, {0, kType});
  store(i32Const(rank), buffer, i32, {0, kDimensions});
  store(dims, buffer, LLVM::LLVMPointerType::get(dimType), {0, kDim});
  store(null, buffer, i8Ptr, {0, kPadding});
  // Halide's dimension 0 is the innermost (last IR) dimension.
  std::vector<int64_t> strides = ref.effectiveStrides();
  Value batchExtent = ref.batchScale == 1
                          ? f.batch32
                          : b.create<LLVM::MulOp>(loc, f.batch32, i32Const(ref.batchScale));
  for (int d = 0; d < rank; ++d) {
    int64_t extent = ref.shape[rank - 1 - d];
    Value dim = b.create<LLVM::GEPOp>(loc, LLVM::LLVMPointerType::get(dimType), dims,
                                      ValueRange{i32Const(d)});
    store(i32Const(0), dim, i32, {0, 0});
    store(extent < 0 ? batchExtent : i32Const(extent), dim, i32, {0, 1});
    store(i32Const(strides[rank - 1 - d]), dim, i32, {0, 2});
    store(i32Const(0), dim, i32, {0, 3});
  }
}

void GraphEmitter::declareKernels(ModuleOp module) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  std::set<std::string> declared;
  for (const KernelCall *call : plan.allCalls()) {
    if (!declared.insert(call->symbol).second)
      continue;
    SmallVector<Type, 6> params(call->args.size() + call->results.size(),
                                LLVM::LLVMPointerType::get(bufferType));
    b.create<LLVM::LLVMFuncOp>(loc, call->symbol, LLVM::LLVMFunctionType::get(i32, params));
  }
}

/// One set of descriptors serves every call: kernels do not keep them.
void GraphEmitter::allocateBuffers(const Program &program, Frame &f) {
  size_t count = 0;
  int rank = 1;
  for (const KernelCall &call : program.calls) {
    count = std::max(count, call.args.size() + call.results.size());
    for (const auto *refs : {&call.args, &call.results})
      for (const TensorRef &ref : *refs)
        rank = std::max<int>(rank, ref.shape.size());
  }
  for (size_t i = 0; i < count; ++i) {
    f.buffers.push_back(
        b.create<LLVM::AllocaOp>(loc, LLVM::LLVMPointerType::get(bufferType), i32Const(1), 8));
    f.dims.push_back(
        b.create<LLVM::AllocaOp>(loc, LLVM::LLVMPointerType::get(dimType), i32Const(rank), 8));
  }
}

void GraphEmitter::emitCall(const KernelCall &call, Frame &f, Value iteration) {
  SmallVector<Value, 6> buffers;
  size_t slot = 0;
  for (const auto *refs : {&call.args, &call.results})
    for (const TensorRef &ref : *refs) {
      fillBuffer(ref, hostPointer(ref, f, iteration), f.buffers[slot], f.dims[slot], f);
      buffers.push_back(f.buffers[slot++]);
    }
  Value status = b.create<LLVM::CallOp>(loc, TypeRange{i32}, call.symbol, buffers).getResult(0);
  Value failed = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::ne, status, i32Const(0));
  Block *next = new Block();
  f.func.getBody().push_back(next);
  b.create<LLVM::CondBrOp>(loc, failed, f.failBlock, ValueRange{status}, next, ValueRange{});
  b.setInsertionPointToStart(next);
}

/// Calls in order; a loop's body is emitted `unroll` times per iteration of
/// a counted loop, and the remaining iterations straight-line after it.
void GraphEmitter::emitProgram(const Program &program, Frame &f) {
  const auto &calls = program.calls;
  for (size_t i = 0; i < calls.size();) {
    if (calls[i].loop < 0) {
      emitCall(calls[i++], f, i64Const(0));
      continue;
    }
    size_t end = i;
    while (end < calls.size() && calls[end].loop == calls[i].loop)
      ++end;
    const Loop &loop = program.loops[calls[i].loop];
    int64_t rounds = loop.count / loop.unroll, done = 0;
    auto body = [&](Value firstIteration) {
      for (int64_t u = 0; u < loop.unroll; ++u) {
        Value iteration = b.create<LLVM::AddOp>(loc, firstIteration, i64Const(u));
        for (size_t c = i; c < end; ++c)
          emitCall(calls[c], f, iteration);
      }
    };
    if (rounds == 1) {
      body(i64Const(0));
      done = loop.unroll;
    } else if (rounds > 1) {
      Block *header = new Block(), *bodyBlock = new Block(), *exit = new Block();
      header->addArgument(i64, loc);
      f.func.getBody().push_back(header);
      f.func.getBody().push_back(bodyBlock);
      b.create<LLVM::BrOp>(loc, ValueRange{i64Const(0)}, header);
      b.setInsertionPointToStart(header);
      Value round = header->getArgument(0);
      Value more = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::slt, round, i64Const(rounds));
      b.create<LLVM::CondBrOp>(loc, more, bodyBlock, ValueRange{}, exit, ValueRange{});
      b.setInsertionPointToStart(bodyBlock);
      body(b.create<LLVM::MulOp>(loc, round, i64Const(loop.unroll)));
      Value nextRound = b.create<LLVM::AddOp>(loc, round, i64Const(1));
      b.create<LLVM::BrOp>(loc, ValueRange{nextRound}, header);
      f.func.getBody().push_back(exit);
      b.setInsertionPointToStart(exit);
      done = rounds * loop.unroll;
    }
    for (int64_t it = done; it < loop.count; ++it)
      for (size_t c = i; c < end; ++c)
        emitCall(calls[c], f, i64Const(it));
    i = end;
  }
}

void GraphEmitter::finish(Frame &f) {
  b.create<LLVM::ReturnOp>(loc, ValueRange{i32Const(0)});
  if (f.failBlock->hasNoPredecessors()) { // a program without calls
    delete f.failBlock;
    return;
  }
  f.func.getBody().push_back(f.failBlock);
  b.setInsertionPointToStart(f.failBlock);
  b.create<LLVM::ReturnOp>(loc, ValueRange{f.failBlock->getArgument(0)});
}

OwningOpRef<ModuleOp> GraphEmitter::emit() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  std::string manifest = manifestText(plan);
  manifest.push_back('\0');
  b.create<LLVM::GlobalOp>(loc, LLVM::LLVMArrayType::get(i8, manifest.size()),
                           /*isConstant=*/true, LLVM::Linkage::External,
                           "dnn_model_manifest", b.getStringAttr(manifest));
  declareKernels(*module);

  // int dnn_model_graph_prepare(void *derived, float *const *weights)
  {
    OpBuilder::InsertionGuard guard(b);
    auto type = LLVM::LLVMFunctionType::get(i32, {i8Ptr, f32PtrPtr});
    Frame f;
    f.func = b.create<LLVM::LLVMFuncOp>(loc, "dnn_model_graph_prepare", type);
    Block *entry = f.func.addEntryBlock();
    f.derived = entry->getArgument(0);
    f.weights = entry->getArgument(1);
    f.failBlock = new Block();
    f.failBlock->addArgument(i32, loc);
    b.setInsertionPointToStart(entry);
    f.batch = i64Const(1);
    f.batch32 = i32Const(1);
    allocateBuffers(plan.prepare, f);
    emitProgram(plan.prepare, f);
    finish(f);
  }
  // int dnn_model_graph_run(void *workspace, int64_t batch, float *const *weights,
  //                         const float *const *inputs, float *const *outputs, void *derived)
  // int dnn_model_graph_train(void *workspace, int64_t batch, float *const *weights,
  //                           const float *const *inputs, float *const *outputs,
  //                           float *const *states)
  auto emitFunction = [&](const char *name, const FunctionPlan *function, bool training) {
    OpBuilder::InsertionGuard guard(b);
    auto type = LLVM::LLVMFunctionType::get(
        i32, {i8Ptr, i64, f32PtrPtr, f32PtrPtr, f32PtrPtr, training ? f32PtrPtr : i8Ptr});
    Frame f;
    f.func = b.create<LLVM::LLVMFuncOp>(loc, name, type);
    Block *entry = f.func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    if (!function) {
      // The model has no train block; the runtime says so before calling.
      b.create<LLVM::ReturnOp>(loc, ValueRange{i32Const(-1)});
      return;
    }
    f.workspace = entry->getArgument(0);
    f.batch = entry->getArgument(1);
    f.weights = entry->getArgument(2);
    f.inputs = entry->getArgument(3);
    f.outputs = entry->getArgument(4);
    (training ? f.states : f.derived) = entry->getArgument(5);
    f.fixedBytes = function->fixedBytes;
    f.failBlock = new Block();
    f.failBlock->addArgument(i32, loc);
    f.batch32 = b.create<LLVM::TruncOp>(loc, i32, f.batch);
    allocateBuffers(function->program, f);
    emitProgram(function->program, f);
    finish(f);
  };
  emitFunction("dnn_model_graph_run", &plan.inference, false);
  emitFunction("dnn_model_graph_train", plan.training ? &*plan.training : nullptr, true);
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
