#include "xgrad/datasets/file_io.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "xgrad/autograd/atomic_file.hpp"

namespace xgrad::data {

namespace fs = std::filesystem;

std::string read_file_bytes(const fs::path& path, std::string_view what) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    throw std::runtime_error(std::string(what) + " not found: " + path.string());
  }
  if (fs::is_directory(status)) {
    throw std::runtime_error(std::string(what) + " is a directory, expected a file: " + path.string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open " + std::string(what) + " " + path.string() + ": " + std::strerror(errno));
  }
  const auto size = fs::file_size(path, ec);
  std::string bytes;
  if (!ec) bytes.resize(static_cast<std::size_t>(size));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  // A file that changed size after file_size (or a special file) is finished
  // by a plain streaming read.
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  if (in) bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("error reading " + std::string(what) + " " + path.string());
  return bytes;
}

void write_file_bytes(const fs::path& path, std::string_view bytes, std::string_view what) {
  try {
    io::replace_file(path.string(), bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(what) + " " + e.what());
  }
}

}  // namespace xgrad::data
