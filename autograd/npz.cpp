#include "autograd/npz.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>
#include <stdexcept>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>

namespace xgrad::io {

namespace {

template <class T>
const char* dtype_of();
template <> const char* dtype_of<float>() { return "<f4"; }
template <> const char* dtype_of<double>() { return "<f8"; }
template <> const char* dtype_of<std::int64_t>() { return "<i8"; }
template <> const char* dtype_of<std::int32_t>() { return "<i4"; }

std::size_t item_size(const std::string& dtype, const std::string& what) {
  if (dtype == "<f4" || dtype == "<i4") return 4;
  if (dtype == "<f8" || dtype == "<i8") return 8;
  throw std::runtime_error(what + ": unsupported dtype '" + dtype + "' (supported: <f4, <f8, <i4, <i8)");
}

template <class Dst, class Src>
void convert(const unsigned char* bytes, std::size_t n, Dst* out, const std::string& what) {
  for (std::size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, bytes + i * sizeof(Src), sizeof(Src));
    if constexpr (std::is_integral_v<Dst> && std::is_floating_point_v<Src>) {
      if (std::trunc(v) != v) throw std::runtime_error(what + ": non-integral value where integers are expected");
    }
    out[i] = static_cast<Dst>(v);
  }
}

}  // namespace

std::size_t NpyArray::size() const {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

template <class T>
xt::xarray<T> NpyArray::to_array() const {
  xt::xarray<T> out = xt::empty<T>(shape);
  const std::size_t n = size();
  const std::string what = "npy array";
  if (dtype == "<f4") convert<T, float>(data.data(), n, out.data(), what);
  else if (dtype == "<f8") convert<T, double>(data.data(), n, out.data(), what);
  else if (dtype == "<i8") convert<T, std::int64_t>(data.data(), n, out.data(), what);
  else if (dtype == "<i4") convert<T, std::int32_t>(data.data(), n, out.data(), what);
  else throw std::runtime_error("npy: unsupported dtype '" + dtype + "'");
  return out;
}

template <class T>
std::string encode_npy(const xt::xarray<T>& array) {
  std::string header = std::string("{'descr': '") + dtype_of<T>() + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < array.dimension(); ++i) header += std::to_string(array.shape()[i]) + ", ";
  // NumPy's spelling: "()", "(3,)", "(3, 4)".
  if (array.dimension() == 1) header.resize(header.size() - 1);
  else if (array.dimension() > 1) header.resize(header.size() - 2);
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
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw std::runtime_error(what + ": truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    throw std::runtime_error(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < offset + header_len) throw std::runtime_error(what + ": truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  std::smatch m;
  NpyArray a;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'"))) throw std::runtime_error(what + ": .npy header has no descr");
  a.dtype = m[1];
  if (a.dtype == "|i1" || a.dtype == "|u1") throw std::runtime_error(what + ": unsupported dtype '" + a.dtype + "'");
  if (!std::regex_search(header, m, std::regex("'fortran_order':\\s*(True|False)"))) throw std::runtime_error(what + ": .npy header has no fortran_order");
  const bool fortran = m[1] == "True";
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) throw std::runtime_error(what + ": .npy header has no shape");
  const std::string dims = m[1];
  static const std::regex digits("\\d+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), digits), end; it != end; ++it)
    a.shape.push_back(std::stoul(it->str()));
  const std::size_t itemsize = item_size(a.dtype, what);
  const std::size_t expected = a.size() * itemsize;
  if (bytes.size() - offset - header_len != expected) {
    throw std::runtime_error(what + ": .npy data has " + std::to_string(bytes.size() - offset - header_len) +
                             " bytes, expected " + std::to_string(expected) + " for shape " + shape_to_string(a.shape));
  }
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset + header_len), bytes.end());
  if (fortran && a.shape.size() > 1) {
    // Column-major: reverse the shape, then permute the elements to C order.
    Shape reversed(a.shape.rbegin(), a.shape.rend());
    std::vector<unsigned char> c_order(a.data.size());
    const std::size_t rank = a.shape.size(), n = a.size();
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
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    throw std::runtime_error(path + ": cannot open as .npz (" + archive_error_string(a.get()) + ")");
  }
  NpzContents out;
  archive_entry* entry;
  int r;
  while ((r = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const std::string name = archive_entry_pathname(entry);
    std::string bytes;
    char buffer[1 << 16];
    la_ssize_t got;
    while ((got = archive_read_data(a.get(), buffer, sizeof buffer)) > 0) bytes.append(buffer, static_cast<std::size_t>(got));
    if (got < 0) throw std::runtime_error(path + ": member '" + name + "' is corrupt (" + archive_error_string(a.get()) + ")");
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) {
      out.arrays[name.substr(0, name.size() - 4)] = decode_npy(bytes, path + ": " + name);
    } else {
      out.others[name] = std::move(bytes);
    }
  }
  if (r != ARCHIVE_EOF) throw std::runtime_error(path + ": corrupt or truncated .npz (" + archive_error_string(a.get()) + ")");
  if (out.arrays.empty() && out.others.empty()) throw std::runtime_error(path + ": empty or not an .npz archive");
  return out;
}

void write_npz_atomic(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder)) throw std::runtime_error(path + ": folder " + folder.string() + " does not exist");
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& why) {
    std::remove(temp.c_str());
    throw std::runtime_error(path + ": could not write (" + why + "); any previous file is unchanged");
  };
  {
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
      if (!bytes.empty() && archive_write_data(a.get(), bytes.data(), bytes.size()) != static_cast<la_ssize_t>(bytes.size())) {
        fail(archive_error_string(a.get()) ? archive_error_string(a.get()) : "short write");
      }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) fail(archive_error_string(a.get()));
  }
  // Flush the data to disk before the rename makes it visible.
  const int fd = ::open(temp.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    fail("fsync failed");
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) fail(std::strerror(errno));
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

template xt::xarray<float> NpyArray::to_array<float>() const;
template xt::xarray<double> NpyArray::to_array<double>() const;
template xt::xarray<std::int64_t> NpyArray::to_array<std::int64_t>() const;
template xt::xarray<std::int32_t> NpyArray::to_array<std::int32_t>() const;
template std::string encode_npy(const xt::xarray<float>&);
template std::string encode_npy(const xt::xarray<double>&);
template std::string encode_npy(const xt::xarray<std::int64_t>&);
template std::string encode_npy(const xt::xarray<std::int32_t>&);

}  // namespace xgrad::io
