#include "xgrad/datasets/loader.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <xtensor/xbuilder.hpp>

#include "xgrad/datasets/split.hpp"

namespace xgrad::data {

namespace {

Shape shape_of(const auto& array) { return Shape(array.shape().begin(), array.shape().end()); }

// The targets' row count must match the inputs'; an undefined handle means
// "no targets".
void check_targets(const Tensor& targets, std::size_t n, const Shape& input_shape, const char* who) {
  if (!targets.defined()) return;
  const Shape t = targets.shape();
  if (t.empty() || t[0] != n) {
    throw std::invalid_argument(std::string(who) + ": targets of shape " + shape_to_string(t) +
                                " do not have one row per sample of the inputs of shape " +
                                shape_to_string(input_shape));
  }
}

// Labels (N, ...): one row per sample.
void check_labels(const xt::xarray<std::int64_t>& labels, std::size_t n, const char* who) {
  if (labels.dimension() == 0 || labels.shape(0) != n) {
    throw std::invalid_argument(std::string(who) + ": labels of shape " + shape_to_string(shape_of(labels)) +
                                " do not have one row per sample (" + std::to_string(n) + ")");
  }
}

Tensor gather_targets(const Tensor& targets, std::span<const std::size_t> rows) {
  if (!targets.defined()) return Tensor();
  return Tensor(take_rows(targets.value(), rows));
}

// (N, T, F) rows -> (T, B, F): out(t, b, :) = in(rows[b], t, :).
xt::xarray<float> gather_time_major(const xt::xarray<float>& in, std::span<const std::size_t> rows) {
  const std::size_t steps = in.shape(1), features = in.shape(2);
  const std::size_t b_count = rows.size();
  xt::xarray<float> out = xt::empty<float>(Shape{steps, b_count, features});
  for (std::size_t b = 0; b < b_count; ++b) {
    const float* src = in.data() + rows[b] * steps * features;
    for (std::size_t t = 0; t < steps; ++t) {
      std::copy_n(src + t * features, features, out.data() + (t * b_count + b) * features);
    }
  }
  return out;
}

TokenArray transpose_tokens(const TokenArray& batch_first) {
  const std::size_t b_count = batch_first.shape(0), steps = batch_first.shape(1);
  TokenArray out = xt::empty<std::int64_t>(Shape{steps, b_count});
  for (std::size_t b = 0; b < b_count; ++b)
    for (std::size_t t = 0; t < steps; ++t) out(t, b) = batch_first(b, t);
  return out;
}

}  // namespace

// ---- BatchSampler ----

namespace {
// set_sampling of both loaders: new sampling options, the same samples and layout.
void resample(const char* loader, LoaderOptions& current, BatchSampler& sampler, const LoaderOptions& options) {
  if (options.layout != current.layout)
    throw std::invalid_argument(std::string(loader) + "::set_sampling: the layout cannot change");
  sampler = BatchSampler(sampler.sample_count(), options);
  current = options;
}
}  // namespace

BatchSampler::BatchSampler(std::size_t sample_count, const LoaderOptions& options)
    : sample_count_(sample_count), options_(options), generator_(options.seed) {
  if (options.batch_size == 0) throw std::invalid_argument("DataLoader: batch_size must be at least 1");
  if (options.shard.count == 0 || options.shard.index >= options.shard.count) {
    throw std::invalid_argument("DataLoader: shard " + std::to_string(options.shard.index) + " of " +
                                std::to_string(options.shard.count) + " does not exist");
  }
  if (options.shard.count > 1 && options.shard.even && sample_count == 0) {
    throw std::invalid_argument("DataLoader: an empty data set cannot be sharded evenly");
  }
}

std::size_t BatchSampler::shard_size() const {
  const Shard& s = options_.shard;
  if (s.count == 1) return sample_count_;
  if (s.even) return (sample_count_ + s.count - 1) / s.count;
  return sample_count_ / s.count + (s.index < sample_count_ % s.count ? 1 : 0);
}

std::size_t BatchSampler::num_batches() const {
  const std::size_t b = options_.batch_size, n = shard_size();
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void BatchSampler::start_epoch() {
  order_ = options_.shuffle ? permutation(sample_count_, generator_) : iota_indices(sample_count_);
  if (const Shard& s = options_.shard; s.count > 1) {
    // PyTorch's DistributedSampler: pad by repeating the start, then deal.
    const std::size_t n = shard_size();
    std::vector<std::size_t> mine;
    mine.reserve(n);
    for (std::size_t k = s.index; mine.size() < n; k += s.count) mine.push_back(order_[k % order_.size()]);
    order_ = std::move(mine);
  }
  next_batch_ = 0;
  ++epoch_;
  in_epoch_ = true;
}

void BatchSampler::skip_epochs(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) start_epoch();
  in_epoch_ = false;
}

std::optional<std::span<const std::size_t>> BatchSampler::next() {
  if (!in_epoch_) start_epoch();
  if (next_batch_ >= num_batches()) {
    in_epoch_ = false;
    return std::nullopt;
  }
  const std::size_t first = next_batch_ * options_.batch_size;
  const std::size_t last = std::min(first + options_.batch_size, order_.size());
  ++next_batch_;
  return std::span<const std::size_t>(order_.data() + first, last - first);
}

// ---- DataLoader ----

DataLoader::DataLoader(Tensor inputs, Tensor targets, const LoaderOptions& options)
    : inputs_(std::move(inputs)),
      targets_(std::move(targets)),
      options_(options),
      sampler_(inputs_.defined() && inputs_.dim() > 0 ? inputs_.shape()[0] : 0, options) {
  if (!inputs_.defined() || inputs_.dim() == 0) {
    throw std::invalid_argument("DataLoader: inputs must be a defined tensor of shape (N, ...)");
  }
  check_targets(targets_, inputs_.shape()[0], inputs_.shape(), "DataLoader");
  if (options.layout == BatchLayout::time_major && inputs_.dim() != 3) {
    throw std::invalid_argument("DataLoader: the time-major layout needs inputs of shape (N, T, F), got " +
                                shape_to_string(inputs_.shape()));
  }
}

DataLoader::DataLoader(Tensor inputs, xt::xarray<std::int64_t> labels, const LoaderOptions& options)
    : DataLoader(std::move(inputs), Tensor(), options) {
  check_labels(labels, inputs_.shape()[0], "DataLoader");
  labels_ = std::move(labels);
}

std::optional<Batch> DataLoader::next() {
  const auto rows = sampler_.next();
  if (!rows) return std::nullopt;
  Batch batch;
  batch.inputs = Tensor(options_.layout == BatchLayout::time_major ? gather_time_major(inputs_.value(), *rows)
                                                                   : take_rows(inputs_.value(), *rows));
  batch.targets = gather_targets(targets_, *rows);
  if (labels_) batch.labels = take_rows(*labels_, *rows);
  batch.indices.assign(rows->begin(), rows->end());
  return batch;
}

EpochIterator<DataLoader, Batch> DataLoader::begin() {
  sampler_.start_epoch();
  return EpochIterator<DataLoader, Batch>(*this);
}

void DataLoader::skip_epochs(std::size_t n) { sampler_.skip_epochs(n); }

void DataLoader::set_sampling(const LoaderOptions& options) { resample("DataLoader", options_, sampler_, options); }

// ---- TokenDataLoader ----

TokenDataLoader::TokenDataLoader(TokenArray tokens, Tensor targets, const LoaderOptions& options)
    : dense_(std::move(tokens)),
      ragged_(false),
      targets_(std::move(targets)),
      options_(options),
      sampler_(dense_.dimension() == 2 ? dense_.shape(0) : 0, options) {
  if (dense_.dimension() != 2) {
    throw std::invalid_argument("TokenDataLoader: token ids must have shape (N, T), got " +
                                shape_to_string(shape_of(dense_)));
  }
  check_targets(targets_, dense_.shape(0), shape_of(dense_), "TokenDataLoader");
}

TokenDataLoader::TokenDataLoader(std::vector<std::vector<std::int64_t>> sequences, Tensor targets,
                                 const LoaderOptions& options, const PadOptions& padding)
    : sequences_(std::move(sequences)),
      ragged_(true),
      padding_(padding),
      targets_(std::move(targets)),
      options_(options),
      sampler_(sequences_.size(), options) {
  check_targets(targets_, sequences_.size(), Shape{sequences_.size()}, "TokenDataLoader");
}

TokenDataLoader::TokenDataLoader(TokenArray tokens, xt::xarray<std::int64_t> labels, const LoaderOptions& options)
    : TokenDataLoader(std::move(tokens), Tensor(), options) {
  check_labels(labels, dense_.shape(0), "TokenDataLoader");
  labels_ = std::move(labels);
}

TokenDataLoader::TokenDataLoader(std::vector<std::vector<std::int64_t>> sequences, xt::xarray<std::int64_t> labels,
                                 const LoaderOptions& options, const PadOptions& padding)
    : TokenDataLoader(std::move(sequences), Tensor(), options, padding) {
  check_labels(labels, sequences_.size(), "TokenDataLoader");
  labels_ = std::move(labels);
}

std::optional<TokenBatch> TokenDataLoader::next() {
  const auto rows = sampler_.next();
  if (!rows) return std::nullopt;
  TokenBatch batch;
  batch.inputs = ragged_ ? pad_sequences(sequences_, *rows, padding_) : take_rows(dense_, *rows);
  if (options_.layout == BatchLayout::time_major) batch.inputs = transpose_tokens(batch.inputs);
  batch.targets = gather_targets(targets_, *rows);
  if (labels_) batch.labels = take_rows(*labels_, *rows);
  batch.indices.assign(rows->begin(), rows->end());
  return batch;
}

EpochIterator<TokenDataLoader, TokenBatch> TokenDataLoader::begin() {
  sampler_.start_epoch();
  return EpochIterator<TokenDataLoader, TokenBatch>(*this);
}

void TokenDataLoader::skip_epochs(std::size_t n) { sampler_.skip_epochs(n); }

void TokenDataLoader::set_sampling(const LoaderOptions& options) {
  resample("TokenDataLoader", options_, sampler_, options);
}

Tensor label_tensor(std::span<const std::int64_t> labels, bool column) {
  Shape shape{labels.size()};
  if (column) shape.push_back(1);
  xt::xarray<float> values = xt::empty<float>(shape);
  std::transform(labels.begin(), labels.end(), values.data(), [](std::int64_t v) { return static_cast<float>(v); });
  return Tensor(std::move(values));
}

}  // namespace xgrad::data
