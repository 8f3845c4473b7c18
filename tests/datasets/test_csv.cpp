#include <doctest/doctest.h>

#include <numeric>

#include <xtensor/xarray.hpp>

#include "helpers.hpp"
#include "xgrad/datasets/csv.hpp"
#include "xgrad/datasets/file_io.hpp"

using namespace xgrad::data;
using xgrad::data::testing::contains;
using xgrad::data::testing::error_of;

TEST_CASE("parse_csv: RFC 4180 quoting, CRLF, no trailing newline") {
  const CsvTable t = parse_csv(
      "\"Month\",\"Note\",Value\r\n"
      "\"1949-01\",\"say \"\"hi\"\", then\r\nleave\",112\r\n"
      "1949-02,,118",
      "mem.csv");
  CHECK(t.header == std::vector<std::string>{"Month", "Note", "Value"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0].fields[1] == "say \"hi\", then\r\nleave");  // doubled quotes, embedded CRLF kept
  CHECK(t.rows[0].line == 2);
  CHECK(t.rows[1].line == 4);  // the quoted line break counts
  CHECK(t.rows[1].fields[1].empty());
  CHECK(t.numeric_column("Value") == std::vector<double>{112, 118});
  CHECK(t.text_column(0) == std::vector<std::string>{"1949-01", "1949-02"});
}

TEST_CASE("parse_csv: LF endings, a final newline, blank lines and a byte order mark") {
  const CsvTable t = parse_csv(
      "\xEF\xBB\xBF"
      "a,b\n1,2\n\n3,4\n",
      "lf.csv");
  CHECK(t.header[0] == "a");
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[1].line == 4);
  CHECK(t.numeric_column(1) == std::vector<double>{2, 4});
}

TEST_CASE("parse_csv and numeric_column: errors name the source, line and column") {
  // A short row names the first missing column.
  const std::string short_row = error_of([] { parse_csv("Date,Temp\n1981-01-01,20.7\n1981-01-02\n", "t.csv"); });
  CHECK(contains(short_row, "t.csv: line 3, column 2 (\"Temp\")"));
  CHECK(contains(short_row, "missing"));
  CHECK(contains(error_of([] { parse_csv("a,b\n1,2,3\n", "long.csv"); }), "long.csv: line 2, column 3"));
  CHECK(contains(error_of([] { parse_csv("a,b\n\"1,2\n", "q.csv"); }), "q.csv: line 2, column 1"));
  CHECK(contains(error_of([] { parse_csv("a,b\n\"1\"x,2\n", "after.csv"); }), "after a closing quote"));
  CHECK(contains(error_of([] { parse_csv("a,b\n1\"2,3\n", "inner.csv"); }), "inner.csv: line 2, column 1"));
  CHECK(contains(error_of([] { parse_csv("", "empty.csv"); }), "empty.csv: the CSV is empty"));
  CHECK(contains(error_of([] { parse_csv("\r\n\n", "blank.csv"); }), "empty"));

  const CsvTable t = parse_csv("Month,Passengers\n1949-01,112\n1949-02,11x8\n1949-03, \n", "air.csv");
  const std::string bad = error_of([&] { t.numeric_column("Passengers"); });
  CHECK(contains(bad, "air.csv: line 3, column 2 (\"Passengers\")"));
  CHECK(contains(bad, "\"11x8\" is not a number"));
  const CsvTable blank = parse_csv("Month,Passengers\n1949-01, \n", "blank.csv");
  CHECK(contains(error_of([&] { blank.numeric_column(1); }), "line 2, column 2 (\"Passengers\"): empty value"));
  CHECK_THROWS_AS(t.column_index("Temp"), std::invalid_argument);
  CHECK(contains(error_of([&] { t.column_index("Temp"); }), "no column named \"Temp\""));
  CHECK(contains(error_of([&] { t.column_index(5); }), "column index 5 is out of range"));
  CHECK_THROWS_AS(CsvColumn(-1), std::invalid_argument);
}

TEST_CASE("parse_csv: non-finite and out-of-range cells, ambiguous headers, NUL bytes and huge rows are errors") {
  const CsvTable t =
      parse_csv("date,value,value\n1949-01,112,1\n1949-02,nan,2\n1949-03,1e400,3\n1949-04,-inf,4\n", "s.csv");
  CHECK(contains(error_of([&] { t.numeric_column(1); }),
                 "s.csv: line 3, column 2 (\"value\"): \"nan\" is not a finite number"));
  const CsvTable range = parse_csv("v\n1e400\n", "r.csv");
  CHECK(contains(error_of([&] { range.numeric_column(0); }),
                 "r.csv: line 2, column 1 (\"v\"): \"1e400\" is out of the range"));
  const CsvTable inf = parse_csv("v\n-inf\n", "i.csv");
  CHECK(contains(error_of([&] { inf.numeric_column(0); }), "not a finite number"));
  // Two columns named "value": picking by name would silently take the first.
  CHECK(contains(error_of([&] { t.column_index("value"); }), "columns 1 and 2 (0-based) both \"value\""));
  CHECK(t.column_index(2) == 2);  // by index it is unambiguous
  const CsvTable nul = parse_csv(std::string("v\n12\0x\n", 7), "n.csv");
  CHECK(contains(error_of([&] { nul.numeric_column(0); }), "\"12\\x00x\" is not a number"));
  CHECK(contains(error_of([] { parse_csv(std::string(70000, ','), "wide.csv"); }), "more than 65536 fields"));
}

TEST_CASE("read_time_series_csv: files, missing paths and columns") {
  xgrad::data::testing::ScratchDir dir;
  write_file_bytes(dir / "s.csv", "\"Date\",\"Temp\"\r\n\"1981-01-01\",20.7\r\n\"1981-01-02\",+17.9", "test csv");
  const TimeSeries s = read_time_series_csv(dir / "s.csv");
  CHECK(s.value_name == "Temp");
  CHECK(s.time_name == "Date");
  CHECK(s.times == std::vector<std::string>{"1981-01-01", "1981-01-02"});
  CHECK(s.values == std::vector<double>{20.7, 17.9});
  const xt::xarray<float> a = s.to_array();
  CHECK(a.shape(0) == 2);
  CHECK(a(1) == doctest::Approx(17.9f));
  const TimeSeries by_name = read_time_series_csv(dir / "s.csv", "Temp", std::nullopt);
  CHECK(by_name.times.empty());

  CHECK(contains(error_of([&] { read_time_series_csv(dir / "nope.csv"); }), "CSV file not found"));
  CHECK(contains(error_of([&] { read_time_series_csv(dir / "nope.csv"); }), "nope.csv"));
  write_file_bytes(dir / "empty.csv", "", "test csv");
  CHECK(contains(error_of([&] { read_time_series_csv(dir / "empty.csv"); }), "empty.csv: the CSV is empty"));
  write_file_bytes(dir / "header.csv", "Date,Temp\r\n", "test csv");
  CHECK(contains(error_of([&] { read_time_series_csv(dir / "header.csv"); }), "no data rows"));
  CHECK(
      contains(error_of([&] { read_time_series_csv(dir / "s.csv", "Passengers"); }), "no column named \"Passengers\""));
}

TEST_CASE("read_time_series_csv: the real airline and Melbourne temperature series") {
  const auto data = xgrad::data::testing::real_data_dir("timeseries");
  if (!data) return;
  const TimeSeries airline = read_time_series_csv(*data / "timeseries/airline-passengers.csv");
  CHECK(airline.size() == 144);
  CHECK(airline.value_name == "Passengers");
  CHECK(airline.times.front() == "1949-01");
  CHECK(airline.times.back() == "1960-12");
  CHECK(std::accumulate(airline.values.begin(), airline.values.end(), 0.0) == 40363.0);
  CHECK(*std::min_element(airline.values.begin(), airline.values.end()) == 104.0);
  CHECK(*std::max_element(airline.values.begin(), airline.values.end()) == 622.0);

  const TimeSeries temps = read_time_series_csv(*data / "timeseries/daily-min-temperatures.csv", "Temp", "Date");
  CHECK(temps.size() == 3650);
  CHECK(temps.times.front() == "1981-01-01");
  CHECK(temps.times.back() == "1990-12-31");
  const double mean = std::accumulate(temps.values.begin(), temps.values.end(), 0.0) / 3650.0;
  CHECK(mean == doctest::Approx(11.1778).epsilon(1e-5));
  CHECK(*std::min_element(temps.values.begin(), temps.values.end()) == 0.0);
  CHECK(*std::max_element(temps.values.begin(), temps.values.end()) == 26.3);
}
