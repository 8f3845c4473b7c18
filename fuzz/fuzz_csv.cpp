// libFuzzer target: CSV text parsed, every column read as numbers and text,
// and a column picked by the first header name (the timeseries experiment's path).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "xgrad/datasets/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const xgrad::data::CsvTable table = xgrad::data::parse_csv(text, "fuzz.csv");
    for (std::size_t c = 0; c < table.header.size() && c < 8; ++c) {
      (void)table.text_column(c);
      try {
        (void)table.numeric_column(c);
      } catch (const std::runtime_error&) {
      }
    }
    if (!table.header.empty()) (void)table.column_index(table.header.front());
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
