#pragma once
// Replacing a file so that a crash, a full disk or a kill never leaves it
// half-written: the new contents go to a temporary file in the same folder,
// which is flushed to disk and then renamed over the old one. Used by every
// writer in xgrad (checkpoints, .npy/.npz, tokenizer state, histories).

#include <functional>
#include <string>
#include <string_view>

namespace xgrad::io {

// `write(temp)` writes the new contents to the file `temp`, throwing
// std::runtime_error(reason) if it cannot. Any failure throws
// std::runtime_error("<path>: could not write (<reason>); any previous file
// is unchanged") and removes the temporary; a missing folder is named.
void replace_file(const std::string& path, const std::function<void(const std::string& temp)>& write);
// The same for bytes in memory.
void replace_file(const std::string& path, std::string_view bytes);

}  // namespace xgrad::io
