// NUL-terminated byte strings for execve(2): argv, envp and paths, built from JavaScript strings
// (encoded as UTF-8) or Buffers (taken byte for byte), completely, before any process state
// changes.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace posix_process {

// The bytes of a string (UTF-8) or Buffer argument. Throws TypeError for any other type, and for a
// NUL byte inside, which C would silently cut the string at.
std::string ByteStringArgument(Napi::Env env, Napi::Value value, const std::string& name);

// A NULL-terminated char* array (argv, envp) that owns its strings.
class CStringArray {
 public:
  CStringArray() = default;
  // From a JavaScript array of strings or Buffers; `name` is used in TypeError messages.
  CStringArray(Napi::Env env, Napi::Value array, const std::string& name);
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;

  void Push(std::string value);
  // The char*[] with its NULL terminator; valid until the next Push.
  char* const* Data();
  const std::vector<std::string>& Strings() const { return strings_; }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

}  // namespace posix_process
