#ifndef CIRCUIT_TESTS_FUZZ_FUZZ_INPUT_H_
#define CIRCUIT_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"

namespace circuit::fuzz {

// Reads a fuzz input front to back: bytes, little-endian numbers and
// length-prefixed chunks. Past the end every read gives zeros or empty
// chunks, so a truncated input is still a valid (shorter) one.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data)), size_(size) {}

  bool empty() const { return pos_ >= size_; }

  uint8_t Byte() {
    if (empty()) return 0;
    return static_cast<uint8_t>(data_[pos_++]);
  }

  uint16_t U16() {
    const uint16_t low = Byte();
    return static_cast<uint16_t>(low | (Byte() << 8));
  }

  // A chunk of U16() bytes (fewer when the input ends first).
  absl::string_view Chunk() {
    const size_t want = U16();
    const size_t n = want < size_ - pos_ ? want : size_ - pos_;
    absl::string_view chunk(data_ + pos_, empty() ? 0 : n);
    pos_ += chunk.size();
    return chunk;
  }

  // Everything not read yet.
  absl::string_view Rest() {
    absl::string_view rest(data_ + pos_, empty() ? 0 : size_ - pos_);
    pos_ = size_;
    return rest;
  }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The fuzzer's own assertion: an invariant of the code under test broke.
// Aborts, so libFuzzer records the input as a crash.
#define FUZZ_CHECK(cond, ...)                                         \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
                   __LINE__, #cond);                                  \
      std::fprintf(stderr, "  " __VA_ARGS__);                         \
      std::fprintf(stderr, "\n");                                     \
      std::abort();                                                   \
    }                                                                 \
  } while (false)

}  // namespace circuit::fuzz

#endif  // CIRCUIT_TESTS_FUZZ_FUZZ_INPUT_H_
