#pragma once
// xgrad's own threads: with set_num_threads(n), n >= 2, the calling thread
// works with n - 1 worker threads, and OpenBLAS runs single-threaded inside
// each of them. Two uses:
//
//  * fork-join: for_each_piece splits one operation (an elementwise op, a
//    copy, a GEMM by rows or columns) between the caller and idle workers.
//    The caller claims pieces too, so a busy or sleeping worker never
//    delays it.
//  * asynchronous jobs: submit() queues work for worker 0, in order; the
//    backward pass uses it for weight gradients (dW += dC^T A), which no
//    later step of backpropagation through time reads, so they run on the
//    second core while the caller continues down the tape.
//
// Why not OpenBLAS's pool: a recurrent step's GEMMs (e.g. 64x512x128) are
// too small for it (no faster with 2 threads than with 1), and
// the weight-gradient GEMMs are independent of the sequential chain, which
// only a scheduler that knows the tape can exploit.
//
// Internal to autograd/ (ops and the tape); not part of the public API.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>

#include "xgrad/autograd/detail/function_ref.hpp"
#include "xgrad/autograd/detail/inline_function.hpp"

namespace xgrad::parallel {

// Sets the number of worker threads (threads - 1), starting or stopping
// them. Called by set_num_threads.
void set_workers(int workers);
int workers();

// True on a worker thread: code there runs serially (no nested fork-join).
bool on_worker();

// True if worker 0 has no queued or running job: a fork-join would get help.
bool workers_idle();

// Work touching fewer elements than this runs on the calling thread: below
// it, handing pieces to a worker costs more than it saves (for the cheapest
// work, a copy; elementwise math gains from it sooner, but one threshold
// keeps every kernel's behaviour predictable).
inline constexpr std::size_t kMinParallelElements = 16384;

// The fork-join every kernel uses: runs fn(i) for every i in [0, pieces),
// spread over the caller and idle workers when the pieces together touch at
// least kMinParallelElements elements (`total_elements`) and a worker is
// idle, serially otherwise; returns when all have run. Pieces must write
// disjoint memory. Serial on a worker thread (no nesting).
void for_each_piece(std::size_t pieces, std::size_t total_elements, FunctionRef<void(std::size_t)> fn);

// The same without the size test, for work whose cost is not its element
// count (a GEMM decides by multiply-adds).
void parallel_for(std::size_t pieces, FunctionRef<void(std::size_t)> fn);

// Queues job for worker 0 (run in submission order); returns its ticket.
// Without workers the job runs at once and the ticket is already done.
std::uint64_t submit(InlineFunction job);
// Blocks until the job with this ticket (and every earlier one) has run.
void wait(std::uint64_t ticket);
bool done(std::uint64_t ticket);
// The last ticket the calling thread submitted (0 if none).
std::uint64_t last_submitted_by_this_thread();

// Note [measured split]: whether a fork-join of a few microseconds of work
// pays depends on the host at the moment: with the two virtual cores close,
// a batch-1 step's product split in two halves saves a tenth of the step;
// placed far apart (or sharing a core), the hand-off costs more than the
// half it saves, and the same binary ran 1.6 ms where one core ran 0.85.
// So a call site that repeats such a fork-join in a loop asks a
// SplitChooser. It times the loop's period (from one call to the next,
// which includes what the split costs the rest of the step: the results
// written on the other core) under each choice, in alternating runs of
// calls, and then keeps the faster for a long stretch before measuring
// again. Medians make it robust to pauses (a gap between sequences, an
// interrupt). Only for work whose results are the same in any partition.
class SplitChooser {
 public:
  // Whether this call should fork (and the call before it is timed).
  bool split();

 private:
  static constexpr int kRun = 8;      // calls per run of one choice
  static constexpr int kRuns = 4;     // runs per measurement, alternating
  static constexpr int kKeep = 2048;  // calls with the faster choice
  std::uint64_t last_ = 0;            // time stamp of the previous measured call
  bool last_choice_ = true;
  bool keep_choice_ = true;
  int call_ = 0;  // position in measure-then-keep
  std::uint32_t samples_[2][kRun * kRuns / 2] = {};
  int counts_[2] = {0, 0};
};

// Note [work ahead]: work whose results a caller consumes in order, made
// ahead of it on worker 0 while the caller goes on (a recurrent layer's
// input projection under no_grad: the steps need block j only after the
// blocks before it, so the caller starts after the first small block
// instead of after the whole projection). `work(ahead)` makes its items in
// order and calls ahead.publish(n) once every item before position n is
// complete (positions are the caller's; it may make the first items
// itself, and then waits only for later ones); the caller's wait_for(n)
// returns when they are (the release/acquire pair on the count makes
// them visible). Only `work` publishes: the count never goes back. As one
// queued job, `work` runs on one thread from start to end, so it may hold
// thread-local state (a PackedWeightsGuard) across items. Without workers, or on a worker, the
// constructor runs all of `work` at once. An exception from `work` is
// rethrown by wait_for. The destructor tells `work` to stop (cancelled())
// and waits for the job: `work` reads the caller's data.
class WorkAhead {
 public:
  explicit WorkAhead(FunctionRef<void(WorkAhead&)> work);
  ~WorkAhead();
  WorkAhead(const WorkAhead&) = delete;
  WorkAhead& operator=(const WorkAhead&) = delete;

  // For `work`: the items before position n are complete.
  void publish(std::size_t n) { published_.store(n, std::memory_order_release); }
  // For `work`: the caller no longer needs items.
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // For the caller: returns once the items before position n are
  // complete, or throws what `work` threw, or std::logic_error if `work`
  // ended without publishing n.
  void wait_for(std::size_t n);

 private:
  void run() noexcept;

  FunctionRef<void(WorkAhead&)> work_;
  std::atomic<std::size_t> published_{0};
  std::atomic<bool> finished_{false};
  std::atomic<bool> cancelled_{false};
  std::exception_ptr error_;  // written by run() before finished_
  std::uint64_t ticket_ = 0;
};

}  // namespace xgrad::parallel
