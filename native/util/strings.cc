#include "strings.h"

#include <unistd.h>

#include <cstring>

namespace posix_process {

namespace {

// Appends a string's UTF-8 bytes to `out`, NUL bytes included (callers that need C strings check).
void AppendUtf8(Napi::String value, std::string& out) {
  size_t start = out.size();
  size_t length = 0;
  napi_status status = napi_get_value_string_utf8(value.Env(), value, nullptr, 0, &length);
  NAPI_THROW_IF_FAILED_VOID(value.Env(), status);
  out.resize(start + length + 1);  // napi writes a terminating NUL
  status = napi_get_value_string_utf8(value.Env(), value, out.data() + start, length + 1, &length);
  NAPI_THROW_IF_FAILED_VOID(value.Env(), status);
  out.resize(start + length);
}

// Appends the bytes of a string or Buffer to `out` without a temporary copy; TypeError if it is
// neither or contains a NUL byte.
void AppendBytes(Napi::Value value, const char* name, std::string& out) {
  size_t start = out.size();
  if (value.IsString()) {
    AppendUtf8(value.As<Napi::String>(), out);
  } else if (value.IsBuffer()) {
    auto buffer = value.As<Napi::Buffer<char>>();
    out.append(buffer.Data(), buffer.Length());
  } else {
    throw Napi::TypeError::New(value.Env(),
                               std::string("The \"") + name + "\" must be a string or a Buffer");
  }
  if (out.find('\0', start) != std::string::npos) {
    throw Napi::TypeError::New(value.Env(),
                               std::string("The \"") + name + "\" must not contain NUL bytes");
  }
}

}  // namespace

std::string BytesArgument(Napi::Value value, const char* name) {
  std::string bytes;
  AppendBytes(value, name, bytes);
  return bytes;
}

// All strings live in one buffer, each followed by its NUL: one allocation for a whole argv or
// environment instead of one per string. Pointers are taken once the buffer is complete, since
// growing it may move it.
void CStringArray::AssignEnviron() {
  // Sized first, then filled by appending: one allocation per vector instead of a dozen
  // doublings, in a call made for every spawn without `env`. Appending, not copying into the
  // sized buffer, stays in bounds even if another thread changed environ between the passes.
  size_t count = 0;
  size_t total = 0;
  for (char** entry = environ; *entry != nullptr; entry++, count++) total += strlen(*entry) + 1;
  bytes_.clear();
  offsets_.clear();
  bytes_.reserve(total);
  offsets_.reserve(count);
  for (char** entry = environ; *entry != nullptr; entry++) {
    offsets_.push_back(bytes_.size());
    bytes_.append(*entry);
    bytes_.push_back('\0');
  }
  TakePointers();
}

bool CStringArray::MatchesEnviron() const {
  size_t i = 0;
  for (char** entry = environ; *entry != nullptr; entry++, i++) {
    if (i == offsets_.size() || strcmp(*entry, bytes_.data() + offsets_[i]) != 0) return false;
  }
  return i == offsets_.size();
}

void CStringArray::TakePointers() {
  pointers_.clear();
  pointers_.reserve(offsets_.size() + 1);
  for (size_t offset : offsets_) pointers_.push_back(bytes_.data() + offset);
  pointers_.push_back(nullptr);
}

void CStringArray::Assign(Napi::Value value, const char* name) {
  if (!value.IsArray()) {
    throw Napi::TypeError::New(value.Env(), std::string("The \"") + name + "\" must be an array");
  }
  auto array = value.As<Napi::Array>();
  bytes_.clear();
  offsets_.clear();
  for (uint32_t i = 0; i < array.Length(); i++) {
    offsets_.push_back(bytes_.size());
    AppendBytes(array[i], name, bytes_);
    bytes_.push_back('\0');
  }
  TakePointers();
}

void CStringArray::AssignJoined(Napi::String joined, const char* name) {
  bytes_.clear();
  offsets_.clear();
  AppendUtf8(joined, bytes_);
  if (!bytes_.empty() && bytes_.back() != '\0') {
    throw Napi::TypeError::New(joined.Env(),
                               std::string("The \"") + name + "\" must end each string with a NUL");
  }
  for (size_t at = 0; at < bytes_.size(); at = bytes_.find('\0', at) + 1) offsets_.push_back(at);
  TakePointers();
}

}  // namespace posix_process
