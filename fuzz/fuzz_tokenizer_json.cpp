// libFuzzer target: a Keras tokenizer JSON (tokenizer.to_json()) loaded, then
// used to convert a text and saved again (the imdb-torch run's tokenizer.json).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "xgrad/datasets/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    const xgrad::data::Tokenizer tokenizer = xgrad::data::Tokenizer::from_json(json, "fuzz.json");
    (void)tokenizer.texts_to_sequences({"the movie was great, not bad <br /> at all"});
    (void)tokenizer.to_json();
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
