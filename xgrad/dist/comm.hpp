#pragma once
// The processes of a data-parallel job and their collectives, on MPI
// (Open MPI under mpirun, as HPC clusters and Horovod use it).
//
//   int main(int argc, char** argv) {
//     xgrad::dist::Session session(&argc, &argv);  // MPI_Init under mpirun; nothing otherwise
//     if (xgrad::dist::rank() == 0) std::puts("only once");
//     xgrad::dist::all_reduce(t, xgrad::dist::ReduceOp::mean);
//   }
//
// Started as a plain process (no launcher in the environment) the job is
// this process alone: rank 0 of world size 1, and no MPI call is made, so a
// program that works under mpirun works without it too. Collectives must be
// called by every rank in the same order, with the same shapes; a rank that
// throws ends the whole job (Session, abort) instead of leaving the others
// waiting in a collective.

#include <cstddef>
#include <exception>
#include <span>
#include <string>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::dist {

// Whether this build of xgrad can talk MPI (configured with XGRAD_WITH_MPI).
bool built_with_mpi();

// Starts communication: MPI_Init_thread (MPI_THREAD_SERIALIZED) when this
// process was started by an MPI launcher, nothing otherwise. Idempotent.
// Throws std::runtime_error when started by mpirun but xgrad was built
// without MPI (each process would otherwise train alone, overwriting the
// others' files).
void init(int* argc = nullptr, char*** argv = nullptr);
// Ends communication (MPI_Finalize) after a barrier; idempotent. Every rank
// must call it; a rank on an error path calls abort instead.
void finalize();
// Whether init ran (and finalize did not yet).
bool initialized();

// This process's index in the job, 0 ... world_size() - 1 (0 before init).
int rank();
// The number of processes in the job (1 before init or without a launcher).
int world_size();
// world_size() > 1.
bool is_distributed();

// Waits until every rank reached it.
void barrier();

enum class ReduceOp { sum, mean, max, min };

// In place: every rank ends with the element-wise reduction over the ranks.
// A tensor's value is reduced (its gradient and tape history untouched).
// Throws std::invalid_argument on every rank if the element counts differ.
void all_reduce(std::span<float> values, ReduceOp op = ReduceOp::sum);
void all_reduce(std::span<double> values, ReduceOp op = ReduceOp::sum);
void all_reduce(Tensor& t, ReduceOp op = ReduceOp::sum);
void all_reduce(TensorD& t, ReduceOp op = ReduceOp::sum);
// True on every rank if `flag` is true on any rank.
bool any(bool flag);

// In place: every rank ends with root's values (element counts must match).
void broadcast(std::span<float> values, int root = 0);
void broadcast(std::span<double> values, int root = 0);
void broadcast(Tensor& t, int root = 0);
void broadcast(TensorD& t, int root = 0);

// Prints "xgrad rank R/N: message" to stderr and ends every process of the
// job with `code` (MPI_Abort). Without MPI it prints the message and exits.
[[noreturn]] void abort(const std::string& message, int code = 1);
// The same for an exception: "context: <its what()>" (its what() alone
// for an empty context).
[[noreturn]] void abort(const std::string& context, std::exception_ptr error, int code = 1);

// init() for the scope of main: the destructor calls finalize(), or, when
// the scope is left by an exception, aborts the whole job so that no rank
// waits forever for this one (install_terminate_handler does the same for
// an exception nobody catches).
class Session {
 public:
  explicit Session(int* argc = nullptr, char*** argv = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  int uncaught_at_start_;
};

}  // namespace xgrad::dist
