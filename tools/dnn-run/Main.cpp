// dnn-run: runs, benchmarks (and trains) dnnc-compiled models.
//   dnn-run [run] model.so ...     run on .npy inputs
//   dnn-run bench model.so ...     latency: median, p10, p90, GFLOP/s
//   dnn-run train model.so ...     train on a dataset (IDX, CSV, .npy pair)
//   dnn-run eval model.so ...      loss, accuracy, confusion matrix
#include "Commands.h"

#include <cstdio>
#include <exception>
#include <new>
#include <string>

int main(int argc, char **argv) {
  try {
    std::string command = argc > 1 ? argv[1] : "";
    if (command == "bench")
      return dnnrun::benchCommand(argc - 2, argv + 2);
    if (command == "train")
      return dnnrun::trainCommand(argc - 2, argv + 2);
    if (command == "eval")
      return dnnrun::evalCommand(argc - 2, argv + 2);
    if (command == "--help" || command == "-h" || command == "help") {
      // Every command with its options: run's usage first, then the others'.
      char help[] = "--help";
      char *args[] = {help};
      int status = dnnrun::runCommand(1, args);
      for (auto *commandHelp : {dnnrun::benchCommand, dnnrun::trainCommand, dnnrun::evalCommand}) {
        std::fputs("\n", stdout);
        status |= commandHelp(1, args);
      }
      return status;
    }
    if (command == "run")
      return dnnrun::runCommand(argc - 2, argv + 2);
    return dnnrun::runCommand(argc - 1, argv + 1);
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "dnn-run: error: out of memory\n");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "dnn-run: error: internal error: %s\n", e.what());
  }
  return 1;
}
