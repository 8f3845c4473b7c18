#include "xgrad/datasets/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

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
  // A temporary beside the file, flushed, then renamed over it: a crash or a
  // full disk leaves the previous file whole.
  const fs::path temp = path.string() + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& why) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw std::runtime_error("cannot write " + std::string(what) + " " + path.string() + ": " + why +
                             " (any previous file is unchanged)");
  };
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail(std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) fail("write error");
  }
  const int fd = ::open(temp.c_str(), O_RDONLY);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced) fail("fsync failed");
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) fail(ec.message());
}

}  // namespace xgrad::data
