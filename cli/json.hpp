// A minimal JSON string encoder for the --json result record.
#pragma once

#include <string>
#include <string_view>

namespace sbx_cli {

// Appends S to OUT as a JSON string literal (with the quotes). Control
// characters, '"' and '\\' are escaped; bytes that are not valid UTF-8 (host
// paths may contain anything) become U+FFFD so the document stays valid.
void json_append_string(std::string& out, std::string_view s);

inline std::string json_string(std::string_view s) {
  std::string out;
  json_append_string(out, s);
  return out;
}

}  // namespace sbx_cli
