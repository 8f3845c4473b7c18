#include "xgrad/dist/comm.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef XGRAD_HAVE_MPI
#include <mpi.h>
#endif

namespace xgrad::dist {

namespace {

bool started = false;
int this_rank = 0;
int ranks = 1;

// Set by Open MPI's mpirun, by PMIx launchers (Slurm's srun, prterun) and
// by MPICH's hydra.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

std::string rank_prefix() { return "xgrad rank " + std::to_string(this_rank) + "/" + std::to_string(ranks) + ": "; }

#ifdef XGRAD_HAVE_MPI
template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
    default:
      return MPI_SUM;
  }
}

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  abort(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}
#endif

template <class T>
void reduce_values(std::span<T> values, ReduceOp op);

// Every rank learns whether the counts agree, so all throw together rather
// than some entering a collective the others left.
void check_same_count(std::size_t count, const char* what) {
  if (!is_distributed()) return;
  double extremes[2] = {static_cast<double>(count), -static_cast<double>(count)};
  reduce_values(std::span<double>(extremes, 2), ReduceOp::max);
  if (extremes[0] != -extremes[1]) {
    throw std::invalid_argument(std::string(what) + ": the ranks hold different element counts (" +
                                std::to_string(static_cast<long long>(-extremes[1])) + " to " +
                                std::to_string(static_cast<long long>(extremes[0])) + "; this rank " +
                                std::to_string(count) + ")");
  }
}

template <class T>
void reduce_values(std::span<T> values, ReduceOp op) {
  if (!is_distributed()) return;
#ifdef XGRAD_HAVE_MPI
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), mpi_type<T>(), mpi_op(op),
                      MPI_COMM_WORLD),
        "MPI_Allreduce");
  if (op == ReduceOp::mean)
    for (T& v : values) v /= static_cast<T>(ranks);
#endif
}

template <class T>
void broadcast_values(std::span<T> values, int root) {
  if (!is_distributed()) return;
  if (root < 0 || root >= ranks) throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is no rank");
#ifdef XGRAD_HAVE_MPI
  check(MPI_Bcast(values.data(), static_cast<int>(values.size()), mpi_type<T>(), root, MPI_COMM_WORLD), "MPI_Bcast");
#endif
}

// MPI counts are int: a larger buffer goes in pieces.
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;

template <class T>
void all_reduce_checked(std::span<T> values, ReduceOp op) {
  check_same_count(values.size(), "all_reduce");
  for (std::size_t at = 0; at < values.size(); at += kMaxChunk)
    reduce_values(values.subspan(at, std::min(kMaxChunk, values.size() - at)), op);
}

template <class T>
void broadcast_checked(std::span<T> values, int root) {
  check_same_count(values.size(), "broadcast");
  for (std::size_t at = 0; at < values.size(); at += kMaxChunk)
    broadcast_values(values.subspan(at, std::min(kMaxChunk, values.size() - at)), root);
}

template <class T>
std::span<T> value_span(BasicTensor<T>& t, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(what) + ": the tensor is undefined");
  return {t.mutable_data(), t.size()};
}

[[noreturn]] void abort_on_terminate() {
  if (const auto e = std::current_exception()) abort("", e);
  abort("terminate called");
}

}  // namespace

bool built_with_mpi() {
#ifdef XGRAD_HAVE_MPI
  return true;
#else
  return false;
#endif
}

void init(int* argc, char*** argv) {
  if (started) return;
  started = true;
  if (!launched_by_mpi()) return;  // a plain process: world size 1, no MPI
#ifdef XGRAD_HAVE_MPI
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
      started = false;
      throw std::runtime_error("dist::init: MPI_Init_thread failed");
    }
  }
  // Errors come back as codes (check() turns them into a job-wide abort
  // with a message) instead of MPI's default silent abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &this_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
#else
  (void)argc;
  (void)argv;
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size == nullptr) size = std::getenv("PMI_SIZE");
  if (size != nullptr && std::string(size) != "1") {
    started = false;
    throw std::runtime_error(
        "dist::init: started by an MPI launcher with " + std::string(size) +
        " processes, but this xgrad was built without MPI (XGRAD_WITH_MPI=OFF or no libopenmpi-dev): "
        "every process would train alone. Install libopenmpi-dev and rebuild.");
  }
#endif
}

void finalize() {
  if (!started) return;
#ifdef XGRAD_HAVE_MPI
  int up = 0, down = 0;
  MPI_Initialized(&up);
  MPI_Finalized(&down);
  if (up && !down) {
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
  }
#endif
  started = false;
  this_rank = 0;
  ranks = 1;
}

bool initialized() { return started; }
int rank() { return this_rank; }
int world_size() { return ranks; }
bool is_distributed() { return ranks > 1; }

void barrier() {
  if (!is_distributed()) return;
#ifdef XGRAD_HAVE_MPI
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void all_reduce(std::span<float> values, ReduceOp op) { all_reduce_checked(values, op); }
void all_reduce(std::span<double> values, ReduceOp op) { all_reduce_checked(values, op); }
void all_reduce(Tensor& t, ReduceOp op) { all_reduce_checked(value_span(t, "all_reduce"), op); }
void all_reduce(TensorD& t, ReduceOp op) { all_reduce_checked(value_span(t, "all_reduce"), op); }

bool any(bool flag) {
  if (!is_distributed()) return flag;
  double v = flag ? 1 : 0;
  reduce_values(std::span<double>(&v, 1), ReduceOp::max);
  return v > 0;
}

void broadcast(std::span<float> values, int root) { broadcast_checked(values, root); }
void broadcast(std::span<double> values, int root) { broadcast_checked(values, root); }
void broadcast(Tensor& t, int root) { broadcast_checked(value_span(t, "broadcast"), root); }
void broadcast(TensorD& t, int root) { broadcast_checked(value_span(t, "broadcast"), root); }

void abort(const std::string& message, int code) {
  std::fflush(stdout);  // what the rank printed before (MPI_Abort and _Exit flush nothing)
  std::fprintf(stderr, "%s%s\n", rank_prefix().c_str(), message.c_str());
  std::fflush(stderr);
#ifdef XGRAD_HAVE_MPI
  int up = 0, down = 0;
  MPI_Initialized(&up);
  MPI_Finalized(&down);
  if (up && !down) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

void abort(const std::string& context, std::exception_ptr error, int code) {
  std::string message = "an exception that is no std::exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
  }
  abort(context.empty() ? message : context + ": " + message, code);
}

Session::Session(int* argc, char*** argv) : uncaught_at_start_(std::uncaught_exceptions()) {
  init(argc, argv);
  if (is_distributed()) std::set_terminate(abort_on_terminate);
}

Session::~Session() {
  if (std::uncaught_exceptions() > uncaught_at_start_ && is_distributed()) {
    abort("an exception ended this rank (its message was printed, or is in the lines above)");
  }
  finalize();
}

}  // namespace xgrad::dist
