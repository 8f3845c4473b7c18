#pragma once
// Quoting untrusted text inside error messages. A message is a C string
// (std::exception::what()), so a NUL byte from a file would cut it short, and
// control bytes or a megabyte-long field would garble the terminal; every
// reader that repeats file content in an error passes it through here.

#include <cstddef>
#include <string>
#include <string_view>

namespace xgrad {

// `text` with bytes below 0x20 and 0x7F written as \n, \t, \r or \xNN, a
// backslash as \\, and anything past `max_bytes` replaced by "..." and the
// total length ("...(1048576 bytes)"). UTF-8 above 0x7F is kept as is.
std::string printable(std::string_view text, std::size_t max_bytes = 80);

}  // namespace xgrad
