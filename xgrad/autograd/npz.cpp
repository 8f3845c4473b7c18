#include "xgrad/autograd/npz.hpp"

#include "xgrad/autograd/atomic_file.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>

namespace xgrad::io {

namespace {

template <class T>
const char* dtype_of();
template <>
const char* dtype_of<float>() {
  return "<f4";
}
template <>
const char* dtype_of<double>() {
  return "<f8";
}
template <>
const char* dtype_of<std::int64_t>() {
  return "<i8";
}
template <>
const char* dtype_of<std::int32_t>() {
  return "<i4";
}

std::size_t item_size(const std::string& dtype, const std::string& what) {
  if (dtype == "<f4" || dtype == "<i4") return 4;
  if (dtype == "<f8" || dtype == "<i8") return 8;
  throw std::runtime_error(what + ": unsupported dtype '" + dtype + "' (supported: <f4, <f8, <i4, <i8)");
}

// Converts n little-endian Src values to Dst. Every value must be
// representable: an integer target takes only integral, in-range values, and
// a finite float never becomes inf (float64 -> float32 overflow), so a file
// can never turn into silently different numbers.
template <class Dst, class Src>
void convert(const unsigned char* bytes, std::size_t n, Dst* out, const std::string& what) {
  for (std::size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, bytes + i * sizeof(Src), sizeof(Src));
    if constexpr (std::is_integral_v<Dst> && std::is_floating_point_v<Src>) {
      // 2^63 and -2^63 are exact in double; the range is [-2^63, 2^63).
      const double lo = static_cast<double>(std::numeric_limits<Dst>::min());
      const double hi = -lo;
      if (!(std::trunc(v) == v && v >= lo && v < hi)) {
        throw std::runtime_error(what + ": element " + std::to_string(i) + " (" + std::to_string(v) +
                                 ") is not an integer in range where integers are expected");
      }
    } else if constexpr (std::is_integral_v<Dst> && std::is_integral_v<Src>) {
      if (v < static_cast<Src>(std::numeric_limits<Dst>::min()) ||
          v > static_cast<Src>(std::numeric_limits<Dst>::max())) {
        throw std::runtime_error(what + ": element " + std::to_string(i) + " (" + std::to_string(v) +
                                 ") does not fit the target integer type");
      }
    } else if constexpr (std::is_floating_point_v<Dst> && std::is_floating_point_v<Src> && sizeof(Dst) < sizeof(Src)) {
      if (std::isfinite(v) && std::fabs(v) > static_cast<Src>(std::numeric_limits<Dst>::max())) {
        throw std::runtime_error(what + ": element " + std::to_string(i) + " (" + std::to_string(v) +
                                 ") overflows float32");
      }
    }
    out[i] = static_cast<Dst>(v);
  }
}

// The element count of `shape`, or nullopt when the product of its extents
// (zero extents read as 1, since xtensor's strides multiply the others even
// for an empty array) exceeds 2^48 elements, far beyond any memory: a crafted
// header must not wrap the arithmetic that sizes buffers and strides.
std::optional<std::size_t> checked_element_count(const Shape& shape) {
  constexpr std::size_t kMaxElements = std::size_t{1} << 48;
  std::size_t product = 1;
  bool zero = false;
  for (const std::size_t d : shape) {
    if (d == 0) {
      zero = true;
      continue;
    }
    if (d > kMaxElements / product) return std::nullopt;
    product *= d;
  }
  return zero ? 0 : product;
}

// A tiny reader for the one Python literal NumPy writes as an .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Anything else is an error that says what was expected where.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_blanks();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_order = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail("unknown key '" + key + "'");
      }
      skip_blanks();
      if (peek() == ',')
        ++pos_;
      else if (peek() != '}')
        fail("expected ',' or '}'");
    }
    if (!have_descr) fail("no 'descr'");
    if (!have_order) fail("no 'fortran_order'");
    if (!have_shape) fail("no 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(what_ + ": malformed .npy header (" + why + " at byte " + std::to_string(pos_) + ")");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_blanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_blanks();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    skip_blanks();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t end = text_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_blanks();
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_blanks();
      if (peek() == ')') {
        ++pos_;
        return shape;
      }
      if (shape.size() >= kMaxRank) fail("more than " + std::to_string(kMaxRank) + " dimensions");
      std::size_t d = 0;
      const char* first = text_.data() + pos_;
      const auto [end, ec] = std::from_chars(first, text_.data() + text_.size(), d);
      if (ec == std::errc::result_out_of_range) fail("a dimension too large for this machine");
      if (ec != std::errc() || end == first) fail("expected a dimension (a non-negative integer)");
      pos_ += static_cast<std::size_t>(end - first);
      shape.push_back(d);
      skip_blanks();
      if (peek() == 'L') ++pos_;  // Python 2's long suffix
      skip_blanks();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        fail("expected ',' or ')' in the shape");
    }
  }

  static constexpr std::size_t kMaxRank = 32;  // NumPy's own limit (NPY_MAXDIMS)
  std::string_view text_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

}  // namespace

std::size_t NpyArray::size() const {
  const auto n = checked_element_count(shape);
  if (!n) throw std::overflow_error("npy array: the element count of shape " + shape_to_string(shape) + " overflows");
  return *n;
}

template <class T>
xt::xarray<T> NpyArray::to_array() const {
  const std::string what = "npy array";
  const std::size_t n = size();
  // An NpyArray can be built by hand: never read past its bytes.
  if (n > data.size() || data.size() != n * item_size(dtype, what)) {
    throw std::runtime_error(what + ": " + std::to_string(data.size()) + " bytes do not hold shape " +
                             shape_to_string(shape) + " of " + dtype);
  }
  xt::xarray<T> out = xt::empty<T>(shape);
  if (dtype == "<f4")
    convert<T, float>(data.data(), n, out.data(), what);
  else if (dtype == "<f8")
    convert<T, double>(data.data(), n, out.data(), what);
  else if (dtype == "<i8")
    convert<T, std::int64_t>(data.data(), n, out.data(), what);
  else if (dtype == "<i4")
    convert<T, std::int32_t>(data.data(), n, out.data(), what);
  else
    throw std::runtime_error("npy: unsupported dtype '" + dtype + "'");
  return out;
}

template <class T>
std::string encode_npy(const xt::xarray<T>& array) {
  std::string header = std::string("{'descr': '") + dtype_of<T>() + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < array.dimension(); ++i) header += std::to_string(array.shape()[i]) + ", ";
  // NumPy's spelling: "()", "(3,)", "(3, 4)".
  if (array.dimension() == 1)
    header.resize(header.size() - 1);
  else if (array.dimension() > 1)
    header.resize(header.size() - 2);
  header += "), }";
  // Pad with spaces so that magic (6) + version (2) + length (2) + header
  // ends with '\n' on a 64-byte boundary, as NumPy writes it.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>((header.size() >> 8) & 0xFF);
  out += header;
  out.append(reinterpret_cast<const char*>(array.data()), array.size() * sizeof(T));
  return out;
}

NpyArray decode_npy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error(what + ": not a .npy array");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len, offset;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw std::runtime_error(what + ": truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i)
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    throw std::runtime_error(what + ": unsupported .npy version " + std::to_string(major));
  }
  // NumPy refuses headers over 10000 bytes by default (max_header_size); we
  // allow a little more but never parse an unbounded header.
  constexpr std::size_t kMaxHeader = 1 << 16;
  if (header_len > kMaxHeader) {
    throw std::runtime_error(what + ": .npy header of " + std::to_string(header_len) + " bytes (the limit is " +
                             std::to_string(kMaxHeader) + ")");
  }
  if (bytes.size() - offset < header_len) throw std::runtime_error(what + ": truncated .npy header");
  const std::string_view header(bytes.data() + offset, header_len);
  if (header.find('\0') != std::string_view::npos) throw std::runtime_error(what + ": NUL byte in the .npy header");
  NpyArray a;
  bool fortran = false;
  NpyHeaderParser(header, what).parse(a.dtype, fortran, a.shape);
  const std::size_t itemsize = item_size(a.dtype, what);
  // The data must be exactly shape x itemsize bytes; the count is checked
  // against the bytes present before anything is sized from it.
  const std::size_t available = bytes.size() - offset - header_len;
  const auto count = checked_element_count(a.shape);
  if (!count || *count > available / itemsize || *count * itemsize != available) {
    throw std::runtime_error(
        what + ": .npy data has " + std::to_string(available) + " bytes, which does not match shape " +
        shape_to_string(a.shape) + " of " + a.dtype +
        (count ? " (expected " + std::to_string(*count * itemsize) + ")" : " (its size overflows)"));
  }
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset + header_len), bytes.end());
  if (fortran && a.shape.size() > 1 && *count > 0) {
    // Column-major: permute the elements to C order (same shape).
    std::vector<unsigned char> c_order(a.data.size());
    const std::size_t rank = a.shape.size(), n = *count;
    std::vector<std::size_t> index(rank, 0);
    for (std::size_t f = 0; f < n; ++f) {
      // f enumerates column-major order: index[0] fastest.
      std::size_t c = 0;
      for (std::size_t d = 0; d < rank; ++d) c = c * a.shape[d] + index[d];
      std::memcpy(&c_order[c * itemsize], &a.data[f * itemsize], itemsize);
      for (std::size_t d = 0; d < rank; ++d) {
        if (++index[d] < a.shape[d]) break;
        index[d] = 0;
      }
    }
    a.data = std::move(c_order);
  }
  return a;
}

const NpyArray& NpzContents::at(const std::string& name) const {
  auto it = arrays.find(name);
  if (it == arrays.end()) throw std::runtime_error("npz: no array named '" + name + "'");
  return it->second;
}

NpzContents read_npz(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(path + ": is a folder, not an .npz file");
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error(path + ": cannot read its size (" + ec.message() + ")");
  // Deflate expands at most 1032:1, so no honest member decompresses to more
  // than that; a zip bomb is stopped before it exhausts memory.
  const std::uint64_t max_total = (static_cast<std::uint64_t>(file_size) + 1) * 1032;
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    const char* why = archive_error_string(a.get());
    throw std::runtime_error(path + ": cannot open as .npz (" + (why ? why : "unknown error") + ")");
  }
  NpzContents out;
  archive_entry* entry;
  int r;
  std::uint64_t total = 0;
  std::set<std::string> seen;
  while ((r = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const char* raw_name = archive_entry_pathname(entry);
    if (!raw_name) throw std::runtime_error(path + ": a member has no name");
    const std::string name = raw_name;
    if (!seen.insert(name).second) {
      // NumPy's np.load keeps one of two same-named members without a word;
      // a checkpoint must not be ambiguous.
      throw std::runtime_error(path + ": member '" + name + "' appears more than once");
    }
    std::string bytes;
    char buffer[1 << 16];
    la_ssize_t got;
    while ((got = archive_read_data(a.get(), buffer, sizeof buffer)) > 0) {
      total += static_cast<std::uint64_t>(got);
      if (total > max_total) {
        throw std::runtime_error(path + ": member '" + name +
                                 "' decompresses to more than 1032x the file's size (a zip bomb?)");
      }
      bytes.append(buffer, static_cast<std::size_t>(got));
    }
    if (got < 0) {
      const char* why = archive_error_string(a.get());
      throw std::runtime_error(path + ": member '" + name + "' is corrupt (" + (why ? why : "read error") + ")");
    }
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) {
      out.arrays[name.substr(0, name.size() - 4)] = decode_npy(bytes, path + ": " + name);
    } else {
      out.others[name] = std::move(bytes);
    }
  }
  if (r != ARCHIVE_EOF) {
    const char* why = archive_error_string(a.get());
    throw std::runtime_error(path + ": corrupt or truncated .npz (" + (why ? why : "bad member header") + ")");
  }
  if (out.arrays.empty() && out.others.empty()) throw std::runtime_error(path + ": empty or not an .npz archive");
  return out;
}

void write_npz_atomic(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members) {
  replace_file(path, [&](const std::string& temp) {
    auto fail = [](const char* why) { throw std::runtime_error(why ? why : "libarchive error"); };
    std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
    archive_write_set_format_zip(a.get());
    archive_write_zip_set_compression_store(a.get());
    if (archive_write_open_filename(a.get(), temp.c_str()) != ARCHIVE_OK) fail(archive_error_string(a.get()));
    for (const auto& [name, bytes] : members) {
      std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
      archive_entry_set_pathname(e.get(), name.c_str());
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(bytes.size()));
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_perm(e.get(), 0644);
      archive_entry_set_mtime(e.get(), 315532800, 0);  // fixed (1980-01-01): same bytes for the same arrays
      if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) fail(archive_error_string(a.get()));
      if (!bytes.empty() &&
          archive_write_data(a.get(), bytes.data(), bytes.size()) != static_cast<la_ssize_t>(bytes.size())) {
        fail(archive_error_string(a.get()) ? archive_error_string(a.get()) : "short write");
      }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) fail(archive_error_string(a.get()));
  });
}

template <class T>
void save_npy(const std::string& path, const xt::xarray<T>& array) {
  replace_file(path, encode_npy(array));
}

template <class T>
xt::xarray<T> load_npy(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(path + ": is a folder, not an .npy file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  // The whole file, whose size the disk bounds; decode_npy checks the
  // header against it before converting anything.
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path + ": read error");
  return decode_npy(bytes, path).to_array<T>();
}

template xt::xarray<float> NpyArray::to_array<float>() const;
template xt::xarray<double> NpyArray::to_array<double>() const;
template xt::xarray<std::int64_t> NpyArray::to_array<std::int64_t>() const;
template xt::xarray<std::int32_t> NpyArray::to_array<std::int32_t>() const;
template std::string encode_npy(const xt::xarray<float>&);
template std::string encode_npy(const xt::xarray<double>&);
template std::string encode_npy(const xt::xarray<std::int64_t>&);
template std::string encode_npy(const xt::xarray<std::int32_t>&);
template void save_npy(const std::string&, const xt::xarray<float>&);
template void save_npy(const std::string&, const xt::xarray<double>&);
template void save_npy(const std::string&, const xt::xarray<std::int64_t>&);
template void save_npy(const std::string&, const xt::xarray<std::int32_t>&);
template xt::xarray<float> load_npy(const std::string&);
template xt::xarray<double> load_npy(const std::string&);
template xt::xarray<std::int64_t> load_npy(const std::string&);
template xt::xarray<std::int32_t> load_npy(const std::string&);

}  // namespace xgrad::io
