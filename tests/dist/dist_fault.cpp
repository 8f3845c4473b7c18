// A job in which one rank fails: rank 1 throws (bad input on that rank
// only) while the others wait for it in an all-reduce. tests/dist/fault.sh
// checks that the whole job ends within seconds, naming rank 1's error,
// instead of hanging. `--caught` takes the path of a program that catches
// the error and calls dist::abort; without it the exception leaves main
// (Session's terminate handler ends the job).
#include <cstring>
#include <stdexcept>
#include <vector>

#include "xgrad/dist/comm.hpp"

int main(int argc, char** argv) {
  xgrad::dist::Session session(&argc, &argv);
  const bool caught = argc > 1 && std::strcmp(argv[1], "--caught") == 0;
  std::vector<double> values(1000, 1.0);
  try {
    if (xgrad::dist::rank() == 1) throw std::invalid_argument("bad input on rank 1: shape (3, 4) expected (3, 5)");
    xgrad::dist::all_reduce(std::span<double>(values));  // the others wait here
  } catch (const std::exception& e) {
    if (!caught) throw;
    xgrad::dist::abort(e.what());
  }
  return 0;
}
