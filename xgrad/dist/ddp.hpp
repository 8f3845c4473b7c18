#pragma once
// Data-parallel training (PyTorch's DistributedDataParallel): every rank
// holds the same model, trains on its own shard of each global batch, and
// after backward every rank holds the gradient averaged over the ranks, so
// the optimizer steps stay identical everywhere.
//
//   xgrad::dist::Session session(&argc, &argv);
//   Net model;
//   xgrad::dist::DistributedDataParallel<> ddp(model);  // rank 0's weights everywhere
//   nn::Adam<> opt(model.parameters(), {.lr = 1e-3});
//   ... loss.backward();   // gradients averaged over the ranks when it returns
//   opt.step();
//
// How: parameters are grouped into buckets of about bucket_mib MiB in
// reverse registration order (the order backward finishes them). A hook on
// each parameter (register_post_accumulate_grad_hook) marks it ready when
// its gradient is final; a bucket whose parameters are all ready starts its
// all-reduce (MPI_Iallreduce) while backward goes on, buckets in the same
// order on every rank. At the end of backward, parameters that received no
// gradient join as zeros, the remaining buckets start, and backward returns
// once all have finished. A parameter no rank has a gradient for keeps none.
//
// The model is trained as usual (model.forward, fit, ...): the wrapper only
// attaches to its parameters. With world size 1 it does nothing.

#include <cstddef>
#include <memory>

#include "xgrad/nn/module.hpp"

namespace xgrad::dist {

struct DdpOptions {
  double bucket_mib = 1.0;  // bucket capacity (PyTorch: 1 MiB first, then 25); a larger parameter spans several
  bool broadcast_parameters = true;  // start every rank from rank 0's weights
};

// Communication figures since construction (or reset_stats).
struct DdpStats {
  std::size_t steps = 0;                  // synchronized backward passes
  std::size_t buckets = 0;                // buckets per step
  std::size_t bytes_per_step = 0;         // all-reduced per step per rank (gradients and flags)
  std::size_t buckets_started_early = 0;  // started before backward ended, summed over steps
  // Bytes whose all-reduce had completed when backward ended: the share of
  // the communication hidden behind backward (summed over steps).
  std::size_t bytes_reduced_during_backward = 0;
  double exposed_seconds = 0;        // waiting after backward ended: the rest of the all-reduces, and slower ranks
  double backward_tail_seconds = 0;  // from the first bucket's start to the end of backward, summed
};

template <class T = float>
class DistributedDataParallel {
 public:
  // Checks that every rank's model has the same parameter shapes (throws
  // std::invalid_argument on every rank otherwise), broadcasts rank 0's
  // values, and hooks the parameters. The module must outlive the wrapper.
  explicit DistributedDataParallel(nn::Module<T>& module, DdpOptions options = {});
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  nn::Module<T>& module() { return module_; }

  // Within its scope backward passes keep their gradients local (gradient
  // accumulation); the first backward after it averages what accumulated.
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& ddp);
    ~NoSync();
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool previous_;
  };
  NoSync no_sync() { return NoSync(*this); }

  const DdpStats& stats() const;
  void reset_stats();

  struct State;  // buckets, requests and timings (ddp.cpp)

 private:
  nn::Module<T>& module_;
  std::shared_ptr<State> state_;  // shared with the parameters' hooks
};

extern template class DistributedDataParallel<float>;
extern template class DistributedDataParallel<double>;

}  // namespace xgrad::dist
