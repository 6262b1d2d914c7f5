#include "strings.h"

#include <unistd.h>

#include <cstring>

namespace posix_process {

std::string BytesArgument(Napi::Value value, const char* name) {
  std::string bytes;
  if (value.IsString()) {
    bytes = value.As<Napi::String>().Utf8Value();
  } else if (value.IsBuffer()) {
    auto buffer = value.As<Napi::Buffer<char>>();
    bytes.assign(buffer.Data(), buffer.Length());
  } else {
    throw Napi::TypeError::New(value.Env(),
                               std::string("The \"") + name + "\" must be a string or a Buffer");
  }
  if (bytes.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(value.Env(),
                               std::string("The \"") + name + "\" must not contain NUL bytes");
  }
  return bytes;
}

void CStringArray::AssignEnviron() {
  strings_.clear();
  for (char** entry = environ; *entry != nullptr; entry++) strings_.emplace_back(*entry);
  TakePointers();
}

// Pointers are taken only once all strings are in place: emplace_back may have moved them.
void CStringArray::TakePointers() {
  pointers_.clear();
  for (std::string& string : strings_) pointers_.push_back(string.data());
  pointers_.push_back(nullptr);
}

void CStringArray::Assign(Napi::Value value, const char* name) {
  if (!value.IsArray()) {
    throw Napi::TypeError::New(value.Env(), std::string("The \"") + name + "\" must be an array");
  }
  auto array = value.As<Napi::Array>();
  strings_.clear();
  strings_.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) strings_.push_back(BytesArgument(array[i], name));
  TakePointers();
}

}  // namespace posix_process
