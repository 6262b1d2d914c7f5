#include "byte_strings.h"

#include <cstring>

namespace posix_process {

std::string ByteStringArgument(Napi::Env env, Napi::Value value, const std::string& name) {
  std::string bytes;
  if (value.IsString()) {
    bytes = value.As<Napi::String>().Utf8Value();
  } else if (value.IsBuffer()) {
    Napi::Buffer<char> buffer = value.As<Napi::Buffer<char>>();
    bytes.assign(buffer.Data(), buffer.Length());
  } else {
    throw Napi::TypeError::New(env, name + " must be a string or a Buffer");
  }
  if (bytes.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, name + " must not contain NUL bytes");
  }
  return bytes;
}

CStringArray::CStringArray(Napi::Env env, Napi::Value array, const std::string& name) {
  if (!array.IsArray()) throw Napi::TypeError::New(env, name + " must be an array");
  Napi::Array elements = array.As<Napi::Array>();
  uint32_t length = elements.Length();
  strings_.reserve(length);
  for (uint32_t i = 0; i < length; i++) {
    strings_.push_back(
        ByteStringArgument(env, elements.Get(i), name + "[" + std::to_string(i) + "]"));
  }
}

void CStringArray::Push(std::string value) {
  strings_.push_back(std::move(value));
}

char* const* CStringArray::Data() {
  pointers_.clear();
  pointers_.reserve(strings_.size() + 1);
  for (std::string& value : strings_) pointers_.push_back(value.data());
  pointers_.push_back(nullptr);
  return pointers_.data();
}

}  // namespace posix_process
