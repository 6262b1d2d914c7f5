// Byte-exact strings for the kernel: paths, argv and envp built from JavaScript strings (UTF-8)
// or Buffers (taken byte for byte), with NUL bytes rejected because C strings cannot hold them.
//
// Everything here allocates, so it runs in the parent before any fork or spawn; the child only
// reads the finished arrays.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace posix_process {

// The bytes of a string or Buffer argument; TypeError if it is neither or contains a NUL byte.
std::string BytesArgument(Napi::Value value, const char* name);

// A NULL-terminated char* array (argv, envp) that owns its strings.
class CStringArray {
 public:
  CStringArray() = default;
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;

  // Fills the array from a JavaScript array of strings or Buffers.
  void Assign(Napi::Value array, const char* name);
  // Fills the array from one JavaScript string that holds every string followed by its NUL
  // (TypeError if the last has none).
  void AssignJoined(Napi::String joined, const char* name);
  // Fills the array from this process's environment (environ).
  void AssignEnviron();
  // Whether the array holds exactly the strings environ holds now (compared byte for byte: a
  // string given to putenv can change in place).
  bool MatchesEnviron() const;
  char* const* data() { return pointers_.data(); }
  size_t size() const { return offsets_.size(); }

 private:
  void TakePointers();

  std::string bytes_;            // every string followed by its NUL
  std::vector<size_t> offsets_;  // where each string starts in bytes_
  std::vector<char*> pointers_{nullptr};
};

}  // namespace posix_process
