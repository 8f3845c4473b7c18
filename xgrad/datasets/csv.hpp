#pragma once
// CSV files: an RFC 4180 reader (header row, quoted fields with doubled
// quotes and embedded line breaks, CRLF or LF or CR, with or without a final
// line break, an optional UTF-8 byte order mark) and a time-series loader on
// top of it.
//
// Error messages name the source, the 1-based line and the 1-based column
// (field number, and the header name when known), e.g.
//   airline.csv: line 7, column 2 ("Passengers"): "12x" is not a number
// All errors are std::runtime_error, except a bad column choice given in
// code, which is std::invalid_argument.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xstorage.hpp>  // completes xt::uvector for the xt::xarray alias
#include <xtensor/xtensor_forward.hpp>

namespace xgrad::data {

// A column picked by header name or by 0-based index.
class CsvColumn {
 public:
  CsvColumn(std::size_t index) : index_(index) {}
  CsvColumn(int index);  // throws std::invalid_argument when negative
  CsvColumn(std::string name) : name_(std::move(name)) {}
  CsvColumn(const char* name) : name_(name) {}

  bool by_name() const { return name_.has_value(); }
  std::string describe() const;  // "column \"Temp\"" or "column index 1"

 private:
  friend class CsvTable;
  std::optional<std::size_t> index_;
  std::optional<std::string> name_;
};

struct CsvRow {
  std::vector<std::string> fields{};  // unquoted field texts
  std::size_t line{};                 // 1-based line on which the row starts
};

// A parsed file: the header and rows that each have exactly header.size()
// fields (blank lines are skipped).
class CsvTable {
 public:
  std::string source;               // file path or a caller-given name, for messages
  std::vector<std::string> header;  // first row
  std::vector<CsvRow> rows;         // data rows, in file order

  // 0-based index of `column`. Throws std::invalid_argument naming the source
  // and listing the header when no column matches.
  std::size_t column_index(const CsvColumn& column) const;
  // Field `column` of every row parsed as a number. Throws std::runtime_error
  // naming source, line and column for an empty or non-numeric field.
  std::vector<double> numeric_column(const CsvColumn& column) const;
  // Field `column` of every row, as text.
  std::vector<std::string> text_column(const CsvColumn& column) const;
};

// Parses CSV text. Throws std::runtime_error naming `source`, line and
// column for: no header row, an unterminated quoted field, text after a
// closing quote, a quote inside an unquoted field, and a row whose field
// count differs from the header's (naming the first missing column).
CsvTable parse_csv(std::string_view text, std::string source = "<csv text>");
// parse_csv of a file's bytes; also throws for a missing or unreadable path.
CsvTable read_csv(const std::filesystem::path& path);

// A univariate series from a CSV file: one numeric value column and an
// optional time column kept as text (dates are not parsed).
struct TimeSeries {
  std::string value_name{};          // header of the value column
  std::string time_name{};           // header of the time column ("" if none)
  std::vector<std::string> times{};  // (T,) time texts, empty when no time column
  std::vector<double> values{};      // (T,) values as parsed (double)

  std::size_t size() const { return values.size(); }
  // The values as float, shape (T,).
  xt::xarray<float> to_array() const;
};

// Loads `value_column` (default: the second column) and `time_column`
// (default: the first; nullopt for none). Throws as read_csv and
// CsvTable::numeric_column do, and for a file with a header but no rows.
TimeSeries read_time_series_csv(const std::filesystem::path& path, const CsvColumn& value_column = 1,
                                const std::optional<CsvColumn>& time_column = CsvColumn(0));

}  // namespace xgrad::data
