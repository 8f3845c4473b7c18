#pragma once
// Mini-batches over in-memory data sets, PyTorch DataLoader style.
//
//   LoaderOptions options;
//   options.batch_size = 64;
//   options.shuffle = true;
//   DataLoader loader(Tensor(x), Tensor(y), options);   // x (N, T, F), y (N, 1)
//   for (const Batch& b : loader) { ... b.inputs ... b.targets ... }   // one epoch
//
// Each range-for (or each run of next() until it returns nullopt) is one
// epoch that visits every sample exactly once; with shuffle on, every epoch
// draws a new permutation from the loader's own Generator, so a loader built
// with the same seed replays the same sequence of epochs. Batches gather only
// their own rows: nothing copies the whole data set per epoch.
//
// Two loaders share the sampling logic (BatchSampler):
//  - DataLoader: float inputs (N, ...) -> Batch{Tensor inputs, ...};
//  - TokenDataLoader: integer token ids for embeddings, dense (N, T) int64 or
//    ragged sequences padded per batch -> TokenBatch{xt::xarray<int64_t> inputs, ...}.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <vector>

// A TokenBatch holds its ids by value, so this header needs the complete
// xarray type (the float path alone would only need the forward declarations).
#include <xtensor/xarray.hpp>

#include "xgrad/autograd/random.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/datasets/padding.hpp"

namespace xgrad::data {

// How rank-3 inputs (N, T, F) are laid out in a batch: (B, T, F) batch-first
// (PyTorch batch_first=True, Keras) or (T, B, F) time-major (PyTorch's
// default RNN layout). Token batches: (B, T) or (T, B).
enum class BatchLayout { batch_first, time_major };

// One rank's share of the data set in data-parallel training (PyTorch's
// DistributedSampler; xgrad::dist::distributed_sampler fills it from the
// job): each epoch's order (shuffled from the same seed on every rank) is
// dealt out round-robin, sample i to rank i % count. With `even` the order
// is first padded by repeating its start so every rank gets the same number
// of samples, hence of batches (no rank waits for another in a collective);
// without it (evaluation) every sample is seen exactly once.
struct Shard {
  std::size_t count = 1;  // ranks
  std::size_t index = 0;  // this rank, < count
  bool even = true;
};

struct LoaderOptions {
  std::size_t batch_size = 32;  // at least 1
  bool shuffle = false;         // a new permutation every epoch
  std::uint32_t seed = 0;       // seeds the loader's Generator (used only when shuffling)
  bool drop_last = false;       // skip a final batch smaller than batch_size
  BatchLayout layout = BatchLayout::batch_first;
  Shard shard{};  // the whole data set by default
};

// The sample order of successive epochs, cut into batches of indices.
class BatchSampler {
 public:
  // Throws std::invalid_argument when batch_size is 0.
  BatchSampler(std::size_t sample_count, const LoaderOptions& options);

  std::size_t sample_count() const { return sample_count_; }
  // The samples this rank sees per epoch: N, or its shard's size.
  std::size_t shard_size() const;
  // ceil(S / batch_size), or floor(S / batch_size) with drop_last, for S
  // the shard size.
  std::size_t num_batches() const;
  // Epochs started so far (0 before the first).
  std::size_t epoch() const { return epoch_; }

  // Starts a new epoch: rewinds and, when shuffling, draws the next permutation.
  void start_epoch();
  // Passes over n whole epochs (their permutations are drawn, no batches
  // made), so that a resumed run sees the sample order of an uninterrupted one.
  void skip_epochs(std::size_t n);
  // The sample indices of the next batch of the current epoch (at most
  // batch_size of them), or nullopt once the epoch is exhausted. Called with
  // no epoch in progress (first call, or after nullopt), it starts one.
  // The span stays valid until the next start_epoch.
  std::optional<std::span<const std::size_t>> next();

 private:
  std::size_t sample_count_;
  LoaderOptions options_;
  Generator generator_;
  std::vector<std::size_t> order_;
  std::size_t next_batch_ = 0;
  std::size_t epoch_ = 0;
  bool in_epoch_ = false;
};

// One mini-batch. `indices` are the rows of the data set it holds, in batch
// order. targets is undefined when the loader has no targets.
template <class Inputs>
struct BasicBatch {
  Inputs inputs{};
  Tensor targets{};  // (B, ...) rows of float targets, if the loader has them
  // (B, ...) rows of integer class labels, if the loader has them; else
  // shape (0) (a default xarray would be 0-d with one element).
  xt::xarray<std::int64_t> labels = xt::xarray<std::int64_t>::from_shape({0});
  std::vector<std::size_t> indices{};
};

using Batch = BasicBatch<Tensor>;
using TokenArray = xt::xarray<std::int64_t>;
using TokenBatch = BasicBatch<TokenArray>;

// Input iterator over the rest of an epoch; compares equal to
// std::default_sentinel when the epoch is over.
template <class Loader, class BatchType>
class EpochIterator {
 public:
  using value_type = BatchType;
  using difference_type = std::ptrdiff_t;
  using iterator_category = std::input_iterator_tag;

  explicit EpochIterator(Loader& loader) : loader_(&loader), current_(loader.next()) {}
  const BatchType& operator*() const { return *current_; }
  const BatchType* operator->() const { return &*current_; }
  EpochIterator& operator++() {
    current_ = loader_->next();
    return *this;
  }
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const { return !current_.has_value(); }

 private:
  Loader* loader_;
  std::optional<BatchType> current_;
};

// Float inputs (N, ...) and targets (N, ...). Batch.inputs is (B, ...), or
// (T, B, F) for rank-3 inputs with BatchLayout::time_major; Batch.targets is
// (B, ...). The loader keeps the two tensor handles (no copy of the data).
class DataLoader {
 public:
  // Throws std::invalid_argument when inputs is undefined or 0-d, targets'
  // first axis differs from N, or time_major is asked for inputs that are
  // not rank 3. `targets` may be an undefined Tensor (e.g. for prediction).
  DataLoader(Tensor inputs, Tensor targets, const LoaderOptions& options = {});
  // With integer class labels (N, ...) instead of float targets: each batch's
  // `labels` go straight into cross_entropy or nll_loss, as a PyTorch
  // DataLoader's LongTensor labels do.
  DataLoader(Tensor inputs, xt::xarray<std::int64_t> labels, const LoaderOptions& options = {});

  std::size_t size() const { return sampler_.sample_count(); }  // N
  std::size_t num_batches() const { return sampler_.num_batches(); }
  std::size_t epoch() const { return sampler_.epoch(); }
  const LoaderOptions& options() const { return options_; }

  // See BatchSampler::next: the next batch of the epoch, nullopt at its end.
  std::optional<Batch> next();
  // Starts a new epoch and iterates it.
  EpochIterator<DataLoader, Batch> begin();
  std::default_sentinel_t end() const { return {}; }
  void skip_epochs(std::size_t n);  // see BatchSampler::skip_epochs
  // Changes how the samples are drawn (batch size, shuffling, seed,
  // drop_last, shard; not the layout), e.g. to dist::distributed_sampler;
  // the next epoch is the first with them. Throws as the constructor does.
  void set_sampling(const LoaderOptions& options);

 private:
  Tensor inputs_, targets_;
  std::optional<xt::xarray<std::int64_t>> labels_;
  LoaderOptions options_;
  BatchSampler sampler_;
};

// Integer token ids for an embedding layer. Either dense (N, T) int64 ids
// (e.g. from pad_sequences), or ragged sequences that each batch pads on the
// fly with `padding` (to the batch's longest sequence when padding.maxlen is
// absent, so short batches stay short). TokenBatch.inputs is (B, T), or
// (T, B) with BatchLayout::time_major; targets are (B, ...).
class TokenDataLoader {
 public:
  // Throws std::invalid_argument unless tokens is 2-D and targets (if
  // defined) has N rows.
  TokenDataLoader(TokenArray tokens, Tensor targets, const LoaderOptions& options = {});
  // Throws std::invalid_argument unless targets (if defined) has one row per sequence.
  TokenDataLoader(std::vector<std::vector<std::int64_t>> sequences, Tensor targets, const LoaderOptions& options = {},
                  const PadOptions& padding = {});
  // The same with integer class labels (N, ...) in each batch's `labels`.
  TokenDataLoader(TokenArray tokens, xt::xarray<std::int64_t> labels, const LoaderOptions& options = {});
  TokenDataLoader(std::vector<std::vector<std::int64_t>> sequences, xt::xarray<std::int64_t> labels,
                  const LoaderOptions& options = {}, const PadOptions& padding = {});

  std::size_t size() const { return sampler_.sample_count(); }
  std::size_t num_batches() const { return sampler_.num_batches(); }
  std::size_t epoch() const { return sampler_.epoch(); }
  const LoaderOptions& options() const { return options_; }

  std::optional<TokenBatch> next();
  EpochIterator<TokenDataLoader, TokenBatch> begin();
  std::default_sentinel_t end() const { return {}; }
  void skip_epochs(std::size_t n);  // see BatchSampler::skip_epochs
  // Changes how the samples are drawn (batch size, shuffling, seed,
  // drop_last, shard; not the layout), e.g. to dist::distributed_sampler;
  // the next epoch is the first with them. Throws as the constructor does.
  void set_sampling(const LoaderOptions& options);

 private:
  TokenArray dense_;                                  // used when !ragged_
  std::vector<std::vector<std::int64_t>> sequences_;  // used when ragged_
  bool ragged_;
  PadOptions padding_;
  Tensor targets_;
  std::optional<xt::xarray<std::int64_t>> labels_;
  LoaderOptions options_;
  BatchSampler sampler_;
};

// Class labels as a float target tensor: shape (N,), or (N, 1) when
// `column` is true (the shape of a Dense(1) sigmoid output for BCE).
Tensor label_tensor(std::span<const std::int64_t> labels, bool column = false);

}  // namespace xgrad::data
