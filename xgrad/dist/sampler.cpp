#include "xgrad/dist/sampler.hpp"

#include "xgrad/dist/comm.hpp"

namespace xgrad::dist {

data::LoaderOptions distributed_sampler(data::LoaderOptions options, bool even) {
  options.shard.count = static_cast<std::size_t>(world_size());
  options.shard.index = static_cast<std::size_t>(rank());
  options.shard.even = even;
  return options;
}

}  // namespace xgrad::dist
