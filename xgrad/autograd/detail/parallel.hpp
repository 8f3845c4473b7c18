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

#include <cstddef>
#include <cstdint>
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

}  // namespace xgrad::parallel
