// libFuzzer target: a Keras IMDB word index (imdb_word_index.json) loaded,
// then used to encode and decode reviews the way imdb-keras does.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "xgrad/datasets/imdb.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    const xgrad::data::KerasWordIndex index = xgrad::data::KerasWordIndex::from_json(json, "fuzz.json");
    const std::vector<std::int64_t> ids = {0, 1, 2, 3, 4, 5, 100, 2147483647, 9223372036854775807, -1};
    (void)xgrad::data::keras_imdb_decode(ids, index);
    (void)index.rank("the");
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
