#include "xgrad/dist/ddp.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/tape.hpp"
#include "xgrad/dist/comm.hpp"

#ifdef XGRAD_HAVE_MPI
#include <mpi.h>
#endif

namespace xgrad::dist {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

// Note [bucket layout]: parameters in reverse registration order are laid
// end to end and cut every `capacity` elements, so a large parameter spans
// buckets and a bucket may start or end mid-parameter. Each piece of a
// parameter in a bucket is a slice; after the slices' values the bucket
// holds one flag per slice: 1 if this rank had a gradient for the
// parameter. Summed over the ranks, the flag says how many had one; zero
// means no rank did, and the parameter keeps no gradient. The layout is a
// function of the shapes only, so it is the same on every rank (checked at
// construction), and buckets start in index order everywhere, as MPI needs.
template <class T>
struct DistributedDataParallel<T>::State {
  struct Slice {
    std::size_t param;   // index into params
    std::size_t offset;  // first element of the parameter in this slice
    std::size_t count;
  };
  struct Bucket {
    std::vector<Slice> slices;
    std::vector<T> buffer;    // slices' values, then one flag per slice
    std::size_t pending = 0;  // slices whose parameter is not ready yet
#ifdef XGRAD_HAVE_MPI
    MPI_Request request = MPI_REQUEST_NULL;
#endif
  };
  std::vector<BasicTensor<T>> params;                // reverse registration order
  std::vector<std::vector<std::size_t>> buckets_of;  // per parameter: the buckets holding its slices
  std::vector<Bucket> buckets;
  std::vector<bool> ready;
  std::size_t next_to_start = 0;
  bool sync = true;
  bool in_backward = false;  // a hook ran; the end-of-backward callback is queued
  bool attached = true;      // false once the wrapper is gone: the hooks do nothing
  Clock::time_point first_start;
  DdpStats stats;

  void on_ready(std::size_t p, const std::shared_ptr<State>& self) {
    if (!attached || !sync) return;
    if (!in_backward) {
      in_backward = true;
      Tape::current().queue_callback([self] { self->finish_step(); },
                                     [self](std::exception_ptr error) { self->backward_failed(error); });
    }
    if (ready[p]) return;
    ready[p] = true;
    for (const std::size_t b : buckets_of[p]) --buckets[b].pending;
    start_ready_buckets(/*early=*/true);
  }

  void start_ready_buckets(bool early) {
    while (next_to_start < buckets.size() && buckets[next_to_start].pending == 0) {
      start(buckets[next_to_start], early);
      ++next_to_start;
    }
#ifdef XGRAD_HAVE_MPI
    // Open MPI moves a non-blocking collective on only inside MPI calls.
    for (std::size_t b = 0; b < next_to_start; ++b) {
      if (buckets[b].request == MPI_REQUEST_NULL) continue;
      int done = 0;
      MPI_Test(&buckets[b].request, &done, MPI_STATUS_IGNORE);
    }
#endif
  }

  void start(Bucket& bucket, bool early) {
    if (next_to_start == 0) first_start = Clock::now();
    const std::size_t n = bucket.slices.size();
    T* values = bucket.buffer.data();
    T* flags = values + (bucket.buffer.size() - n);
    for (std::size_t s = 0; s < n; ++s) {
      const Slice& slice = bucket.slices[s];
      const BasicTensor<T>& p = params[slice.param];
      if (p.has_grad()) {
        std::memcpy(values, p.grad().data() + slice.offset, slice.count * sizeof(T));
        flags[s] = T(1);
      } else {
        std::fill(values, values + slice.count, T(0));
        flags[s] = T(0);
      }
      values += slice.count;
    }
    if (early) ++stats.buckets_started_early;
#ifdef XGRAD_HAVE_MPI
    const int code = MPI_Iallreduce(MPI_IN_PLACE, bucket.buffer.data(), static_cast<int>(bucket.buffer.size()),
                                    sizeof(T) == 4 ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &bucket.request);
    if (code != MPI_SUCCESS) abort("DistributedDataParallel: MPI_Iallreduce failed");
#endif
  }

  // A rule threw during backward: this rank cannot take part in the
  // step's all-reduces as the others will, so the job ends here, with the
  // error (an exception caught and survived on one rank would leave the
  // others waiting forever).
  void backward_failed(std::exception_ptr error) {
    abort("DistributedDataParallel: backward failed while the gradients were being averaged", error);
  }

  // The end of backward: every gradient is final.
  void finish_step() {
    in_backward = false;
    if (!attached) {  // the wrapper is gone: let started all-reduces finish before their buffers go
#ifdef XGRAD_HAVE_MPI
      for (Bucket& bucket : buckets) MPI_Wait(&bucket.request, MPI_STATUS_IGNORE);
#endif
      reset_step();
      return;
    }
    const Clock::time_point backward_end = Clock::now();
    if (next_to_start > 0)
      stats.backward_tail_seconds += std::chrono::duration<double>(backward_end - first_start).count();
#ifdef XGRAD_HAVE_MPI
    for (std::size_t b = 0; b < next_to_start; ++b) {
      int done = 0;
      if (buckets[b].request != MPI_REQUEST_NULL) MPI_Test(&buckets[b].request, &done, MPI_STATUS_IGNORE);
      if (buckets[b].request == MPI_REQUEST_NULL)
        stats.bytes_reduced_during_backward += buckets[b].buffer.size() * sizeof(T);
    }
#endif
    for (std::size_t p = 0; p < params.size(); ++p)
      if (!ready[p]) {
        ready[p] = true;
        for (const std::size_t b : buckets_of[p]) --buckets[b].pending;
      }
    start_ready_buckets(/*early=*/false);
    const T scale = T(1) / static_cast<T>(world_size());
    for (Bucket& bucket : buckets) {
#ifdef XGRAD_HAVE_MPI
      if (MPI_Wait(&bucket.request, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        abort("DistributedDataParallel: MPI_Wait failed");
#endif
      const std::size_t n = bucket.slices.size();
      const T* values = bucket.buffer.data();
      const T* flags = values + (bucket.buffer.size() - n);
      for (std::size_t s = 0; s < n; ++s) {
        const Slice& slice = bucket.slices[s];
        BasicTensor<T>& p = params[slice.param];
        if (flags[s] > T(0)) {
          if (!p.has_grad()) accumulate_grad(p, xt::xarray<T>(xt::zeros<T>(p.shape())));
          T* g = p.mutable_grad().data() + slice.offset;
          for (std::size_t i = 0; i < slice.count; ++i) g[i] = values[i] * scale;
        }
        values += slice.count;
      }
    }
    stats.exposed_seconds += seconds_since(backward_end);
    ++stats.steps;
    reset_step();
  }

  void reset_step() {
    std::fill(ready.begin(), ready.end(), false);
    for (Bucket& bucket : buckets) bucket.pending = bucket.slices.size();
    next_to_start = 0;
  }
};

template <class T>
DistributedDataParallel<T>::DistributedDataParallel(nn::Module<T>& module, DdpOptions options)
    : module_(module), state_(std::make_shared<State>()) {
  if (!(options.bucket_mib > 0)) throw std::invalid_argument("DistributedDataParallel: bucket_mib must be positive");
  State& s = *state_;
  s.params = module.parameters();
  std::reverse(s.params.begin(), s.params.end());
  // Every rank the same parameters: compare the count, the total size and a
  // digest of the shapes. Every rank throws together on a mismatch.
  double digest = 0, total = 0;
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    total += static_cast<double>(s.params[i].size());
    digest += static_cast<double>((i + 1) * s.params[i].size()) + static_cast<double>(s.params[i].dim()) * 0.5;
  }
  double mine[3] = {static_cast<double>(s.params.size()), total, digest};
  double high[3] = {mine[0], mine[1], mine[2]}, low[3] = {-mine[0], -mine[1], -mine[2]};
  all_reduce(std::span<double>(high, 3), ReduceOp::max);
  all_reduce(std::span<double>(low, 3), ReduceOp::max);
  for (int k = 0; k < 3; ++k)
    if (high[k] != -low[k]) {
      throw std::invalid_argument("DistributedDataParallel: the ranks' models differ (this rank has " +
                                  std::to_string(s.params.size()) + " parameters of " +
                                  std::to_string(static_cast<std::size_t>(total)) +
                                  " elements); every rank must build the same model");
    }
  if (options.broadcast_parameters)
    for (auto& p : s.params) broadcast(p, 0);
  if (!is_distributed()) return;  // one process: nothing to average

  // Note [bucket layout].
  const auto capacity =
      std::max<std::size_t>(1, static_cast<std::size_t>(options.bucket_mib * 1024 * 1024 / sizeof(T)));
  s.buckets_of.resize(s.params.size());
  typename State::Bucket current;
  std::size_t filled = 0;
  const auto close_bucket = [&] {
    if (current.slices.empty()) return;
    current.buffer.assign(filled + current.slices.size(), T(0));
    current.pending = current.slices.size();
    s.buckets.push_back(std::move(current));
    current = {};
    filled = 0;
  };
  for (std::size_t p = 0; p < s.params.size(); ++p) {
    const std::size_t size = s.params[p].size();
    std::size_t offset = 0;
    do {
      const std::size_t take = std::min(size - offset, capacity - filled);
      current.slices.push_back({p, offset, take});
      s.buckets_of[p].push_back(s.buckets.size());
      offset += take;
      filled += take;
      if (filled == capacity) close_bucket();
    } while (offset < size);
  }
  close_bucket();
  s.ready.assign(s.params.size(), false);
  s.stats.buckets = s.buckets.size();
  for (const auto& b : s.buckets) s.stats.bytes_per_step += b.buffer.size() * sizeof(T);
  for (std::size_t p = 0; p < s.params.size(); ++p) {
    std::weak_ptr<State> weak = state_;
    s.params[p].register_post_accumulate_grad_hook([weak, p](const BasicTensor<T>&) {
      if (const auto state = weak.lock()) state->on_ready(p, state);
    });
  }
}

template <class T>
DistributedDataParallel<T>::~DistributedDataParallel() {
  state_->attached = false;
}

template <class T>
DistributedDataParallel<T>::NoSync::NoSync(DistributedDataParallel& ddp) : ddp_(ddp), previous_(ddp.state_->sync) {
  ddp_.state_->sync = false;
}
template <class T>
DistributedDataParallel<T>::NoSync::~NoSync() {
  ddp_.state_->sync = previous_;
}

template <class T>
const DdpStats& DistributedDataParallel<T>::stats() const {
  return state_->stats;
}
template <class T>
void DistributedDataParallel<T>::reset_stats() {
  const std::size_t buckets = state_->stats.buckets, bytes = state_->stats.bytes_per_step;
  state_->stats = {};
  state_->stats.buckets = buckets;
  state_->stats.bytes_per_step = bytes;
}

template class DistributedDataParallel<float>;
template class DistributedDataParallel<double>;

}  // namespace xgrad::dist
