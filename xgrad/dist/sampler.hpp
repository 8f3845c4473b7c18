#pragma once
// PyTorch's DistributedSampler for xgrad's loaders: the options that make a
// DataLoader or TokenDataLoader give this rank its shard of every epoch.
//
//   data::LoaderOptions o{.batch_size = 32, .shuffle = true, .seed = 7};
//   data::TokenDataLoader train(tokens, labels, dist::distributed_sampler(o));
//   data::TokenDataLoader val(val_tokens, val_labels, dist::distributed_sampler(v, /*even=*/false));
//
// Every rank must use the same seed: the epoch's order is the same
// everywhere and the ranks take disjoint parts of it (data::Shard).

#include "xgrad/datasets/loader.hpp"

namespace xgrad::dist {

// `options` with its shard set to this rank of the job (the whole data set
// when the job is one process). even: pad so that every rank gets the same
// number of samples (training: the ranks meet in every step's all-reduce);
// false: each sample exactly once, shards may differ by one (evaluation,
// whose figures are reduced once at the end).
data::LoaderOptions distributed_sampler(data::LoaderOptions options, bool even = true);

}  // namespace xgrad::dist
