# lit configuration of dnnc's regression tests: every .dnn/.mlir/.test file
# under tests/lit runs its RUN lines with dnnc's tools and FileCheck on PATH.
import os
import lit.formats

config.name = "dnnc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".dnn", ".mlir", ".test"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.dnnc_obj_root

path = os.pathsep.join([config.dnnc_tools_dir, config.llvm_tools_dir,
                        config.environment.get("PATH", os.environ["PATH"])])
config.environment["PATH"] = path
config.substitutions.append(("%examples", os.path.join(config.dnnc_source_dir, "examples")))
config.substitutions.append(("%scripts", os.path.join(config.dnnc_source_dir, "scripts")))

# dnn-run train/eval tests: python3 writes their small IDX files; the
# Fashion-MNIST tests need the dataset (Debian package dataset-fashion-mnist,
# which scripts/bootstrap.sh installs) and are skipped without it.
import sys
config.substitutions.append(("%python", sys.executable))
fashion_mnist = "/usr/share/datasets/fashion-mnist"
config.substitutions.append(("%fashion_mnist", fashion_mnist))
if all(os.path.exists(os.path.join(fashion_mnist, split + "-" + kind + ".gz"))
       for split in ("train", "t10k")
       for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")):
    config.available_features.add("fashion-mnist")
