//===- KernelSelection.h - the Halide kernel of a planned call --*- C++ -*-===//
#ifndef DNNC_CODEGEN_KERNELSELECTION_H
#define DNNC_CODEGEN_KERNELSELECTION_H

#include "ModelPlan.h"
#include "kernels/Kernels.h"

namespace dnnc::codegen {

/// Builds the Halide pipeline of one call; throws (Halide or std) on failure.
kernels::Kernel buildKernel(const KernelCall &call, const Halide::Target &target);

} // namespace dnnc::codegen

#endif // DNNC_CODEGEN_KERNELSELECTION_H
