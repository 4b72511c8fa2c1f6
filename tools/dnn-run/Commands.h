// The commands of dnn-run; each takes the arguments after its name and
// returns the process's exit status.
#pragma once

namespace dnnrun {

int runCommand(int argc, char **argv);
int benchCommand(int argc, char **argv);
int trainCommand(int argc, char **argv);
int evalCommand(int argc, char **argv);

} // namespace dnnrun
