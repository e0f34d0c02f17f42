#pragma once
// A growable byte buffer without zero-filling: the reactor serialises records into it at up to
// millions per second, so growth is amortised and Clear() keeps the capacity. Also the stream
// type msgpack::packer writes to. Not thread-safe; ownership moves between threads with the
// batch that holds it.
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace mandrill::broker::journal {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_.get(), size_}; }

  void Clear() { size_ = 0; }
  void Reserve(std::size_t n) {
    if (n > capacity_) Grow(n);
  }
  // Makes room for n more bytes and returns a pointer to them (contents unspecified).
  char* Extend(std::size_t n) {
    if (size_ + n > capacity_) Grow(size_ + n);
    char* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void Append(const char* p, std::size_t n) {
    if (n == 0) return;
    std::memcpy(Extend(n), p, n);
  }
  void Append(std::string_view s) { Append(s.data(), s.size()); }
  void Truncate(std::size_t n) {
    if (n < size_) size_ = n;
  }
  // msgpack::packer's stream interface.
  void write(const char* p, std::size_t n) { Append(p, n); }

 private:
  void Grow(std::size_t need) {
    std::size_t cap = capacity_ < 4096 ? 4096 : capacity_;
    while (cap < need) cap *= 2;
    auto fresh = std::make_unique_for_overwrite<char[]>(cap);
    if (size_ > 0) std::memcpy(fresh.get(), data_.get(), size_);
    data_ = std::move(fresh);
    capacity_ = cap;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace mandrill::broker::journal
