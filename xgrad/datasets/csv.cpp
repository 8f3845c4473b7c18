#include "xgrad/datasets/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/printable.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/datasets/file_io.hpp"

namespace xgrad::data {

namespace {

std::string in_quotes(std::string_view s) {
  std::string out;  // appended piecewise: "\"" + s + "\"" trips GCC 12's -Wrestrict false positive
  out.push_back('"');
  out.append(printable(s));  // file content: NUL and control bytes escaped, long fields cut
  out.push_back('"');
  return out;
}

// "<source>: line L, column C" (+ (" name") when the header names it).
std::string position(const std::string& source, std::size_t line, std::size_t column,
                     const std::vector<std::string>* header = nullptr) {
  std::string s = source + ": line " + std::to_string(line) + ", column " + std::to_string(column);
  if (header && column >= 1 && column <= header->size()) s += " (" + in_quotes((*header)[column - 1]) + ")";
  return s;
}

// One pass over the text that splits it into records of fields, RFC 4180
// style. Line numbers count every line break, including those inside quoted
// fields, so that messages point at the physical line in an editor.
class CsvParser {
 public:
  CsvParser(std::string_view text, const std::string& source) : text_(text), source_(source) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);  // UTF-8 byte order mark
  }

  // The next record, or nullopt at the end of the text. Blank lines are skipped.
  std::optional<CsvRow> next_row() {
    while (pos_ < text_.size()) {
      if (at_line_break()) {  // a blank line
        consume_line_break();
        continue;
      }
      CsvRow row{{}, line_};
      while (true) {
        if (row.fields.size() == kMaxFields) {
          throw std::runtime_error(position(source_, line_, kMaxFields + 1) + ": more than " +
                                   std::to_string(kMaxFields) + " fields in one row");
        }
        row.fields.push_back(parse_field(row.fields.size() + 1));
        if (pos_ >= text_.size()) break;
        if (text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        consume_line_break();  // parse_field stops only at ',', a line break or the end
        break;
      }
      return row;
    }
    return std::nullopt;
  }

 private:
  bool at_line_break() const { return text_[pos_] == '\n' || text_[pos_] == '\r'; }
  void consume_line_break() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  std::string parse_field(std::size_t column) {
    if (pos_ < text_.size() && text_[pos_] == '"') return parse_quoted(column);
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
      if (text_[pos_] == '"') {
        throw std::runtime_error(position(source_, line_, column) +
                                 ": a quote inside an unquoted field (quote the whole field and "
                                 "double the quote)");
      }
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  std::string parse_quoted(std::size_t column) {
    const std::size_t start_line = line_;
    ++pos_;  // opening quote
    std::string field;
    while (true) {
      const std::size_t quote = text_.find('"', pos_);
      if (quote == std::string_view::npos) {
        throw std::runtime_error(position(source_, start_line, column) +
                                 ": quoted field is never closed (the file ends inside it)");
      }
      const std::string_view chunk = text_.substr(pos_, quote - pos_);
      line_ += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
      // A CR not followed by LF is a line break of its own.
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        if (chunk[i] == '\r' && (i + 1 == chunk.size() || chunk[i + 1] != '\n')) ++line_;
      }
      field.append(chunk);
      pos_ = quote + 1;
      if (pos_ < text_.size() && text_[pos_] == '"') {  // "" is one literal quote
        field.push_back('"');
        ++pos_;
        continue;
      }
      break;
    }
    if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
      throw std::runtime_error(position(source_, line_, column) + ": unexpected character '" +
                               std::string(1, text_[pos_]) + "' after a closing quote");
    }
    return field;
  }

  // Each field costs a std::string (32 bytes) even when empty: a bound on
  // fields per row keeps a line of commas from amplifying into gigabytes.
  static constexpr std::size_t kMaxFields = 1 << 16;
  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

CsvColumn::CsvColumn(int index) {
  if (index < 0) throw std::invalid_argument("CsvColumn: column index " + std::to_string(index) + " is negative");
  index_ = static_cast<std::size_t>(index);
}

std::string CsvColumn::describe() const {
  return name_ ? "column " + in_quotes(*name_) : "column index " + std::to_string(*index_);
}

std::size_t CsvTable::column_index(const CsvColumn& column) const {
  if (column.index_) {
    if (*column.index_ < header.size()) return *column.index_;
    throw std::invalid_argument(source + ": column index " + std::to_string(*column.index_) +
                                " is out of range: the header has " + std::to_string(header.size()) + " column(s)");
  }
  const auto it = std::find(header.begin(), header.end(), *column.name_);
  if (it != header.end()) {
    const auto again = std::find(it + 1, header.end(), *column.name_);
    if (again != header.end()) {
      // pandas would rename the second to "name.1"; picking one silently could read the wrong data.
      throw std::invalid_argument(source + ": the header names columns " + std::to_string(it - header.begin()) +
                                  " and " + std::to_string(again - header.begin()) + " (0-based) both " +
                                  in_quotes(*column.name_) + "; pick the column by index");
    }
    return static_cast<std::size_t>(it - header.begin());
  }
  std::string names;
  for (const auto& h : header) names += (names.empty() ? "" : ", ") + in_quotes(h);
  throw std::invalid_argument(source + ": no column named " + in_quotes(*column.name_) + "; the header (line 1) has " +
                              names);
}

std::vector<double> CsvTable::numeric_column(const CsvColumn& column) const {
  const std::size_t c = column_index(column);
  std::vector<double> values;
  values.reserve(rows.size());
  for (const CsvRow& row : rows) {
    std::string_view text = trim_blanks(row.fields[c]);
    if (text.empty()) {
      throw std::runtime_error(position(source, row.line, c + 1, &header) + ": empty value, expected a number");
    }
    std::string_view digits = text.front() == '+' ? text.substr(1) : text;
    double v = 0.0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc::result_out_of_range && end == digits.data() + digits.size()) {
      throw std::runtime_error(position(source, row.line, c + 1, &header) + ": " + in_quotes(row.fields[c]) +
                               " is out of the range of a double");
    }
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      throw std::runtime_error(position(source, row.line, c + 1, &header) + ": " + in_quotes(row.fields[c]) +
                               " is not a number");
    }
    if (!std::isfinite(v)) {
      // from_chars reads "nan" and "inf"; a series with them trains to NaN
      // many steps later, far from the cell that caused it.
      throw std::runtime_error(position(source, row.line, c + 1, &header) + ": " + in_quotes(row.fields[c]) +
                               " is not a finite number (clean or drop the row)");
    }
    values.push_back(v);
  }
  return values;
}

std::vector<std::string> CsvTable::text_column(const CsvColumn& column) const {
  const std::size_t c = column_index(column);
  std::vector<std::string> values;
  values.reserve(rows.size());
  for (const CsvRow& row : rows) values.push_back(row.fields[c]);
  return values;
}

CsvTable parse_csv(std::string_view text, std::string source) {
  CsvTable table;
  table.source = std::move(source);
  CsvParser parser(text, table.source);
  auto header = parser.next_row();
  if (!header) throw std::runtime_error(table.source + ": the CSV is empty (expected a header row)");
  table.header = std::move(header->fields);
  while (auto row = parser.next_row()) {
    const std::size_t n = row->fields.size(), expected = table.header.size();
    if (n < expected) {
      throw std::runtime_error(position(table.source, row->line, n + 1, &table.header) + ": missing; the row has " +
                               std::to_string(n) + " field(s), the header " + std::to_string(expected));
    }
    if (n > expected) {
      throw std::runtime_error(position(table.source, row->line, expected + 1) + ": unexpected; the row has " +
                               std::to_string(n) + " fields, the header only " + std::to_string(expected));
    }
    table.rows.push_back(std::move(*row));
  }
  return table;
}

CsvTable read_csv(const std::filesystem::path& path) {
  return parse_csv(read_file_bytes(path, "CSV file"), path.string());
}

xt::xarray<float> TimeSeries::to_array() const {
  xt::xarray<float> a = xt::empty<float>(Shape{values.size()});
  std::transform(values.begin(), values.end(), a.data(), [](double v) { return static_cast<float>(v); });
  return a;
}

TimeSeries read_time_series_csv(const std::filesystem::path& path, const CsvColumn& value_column,
                                const std::optional<CsvColumn>& time_column) {
  const CsvTable table = read_csv(path);
  if (table.rows.empty()) throw std::runtime_error(table.source + ": the CSV has a header but no data rows");
  TimeSeries series;
  series.value_name = table.header[table.column_index(value_column)];
  series.values = table.numeric_column(value_column);
  if (time_column) {
    series.time_name = table.header[table.column_index(*time_column)];
    series.times = table.text_column(*time_column);
  }
  return series;
}

}  // namespace xgrad::data
