// libFuzzer target: one .npy array's bytes (a checkpoint member) decoded and
// converted to every supported element type. Any crash, sanitizer report or
// exception other than the reader's documented errors is a bug.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/npz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const xgrad::io::NpyArray a = xgrad::io::decode_npy(bytes, "fuzz.npy");
    if (a.size() > (1u << 20)) return 0;  // a valid huge array: converting it only tests the allocator
    (void)a.to_array<float>();
    (void)a.to_array<double>();
    (void)a.to_array<std::int64_t>();
    (void)a.to_array<std::int32_t>();
  } catch (const std::runtime_error&) {
  } catch (const std::overflow_error&) {
  }
  return 0;
}
