#include "xgrad/autograd/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace xgrad::io {

void replace_file(const std::string& path, const std::function<void(const std::string& temp)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder)) throw std::runtime_error(path + ": folder " + folder.string() + " does not exist");
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& why) {
    std::remove(temp.c_str());
    throw std::runtime_error(path + ": could not write (" + why + "); any previous file is unchanged");
  };
  try {
    write(temp);
  } catch (const std::runtime_error& e) {
    fail(e.what());
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

void replace_file(const std::string& path, std::string_view bytes) {
  replace_file(path, [&](const std::string& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("short write");
  });
}

}  // namespace xgrad::io
