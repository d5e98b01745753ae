#pragma once
// A process-unique serial number for objects whose results a cache may key on. Unlike
// an address it is never reused, so a cache cannot mistake a new object allocated where
// an old one was for the old one. Copies and moves get a fresh number: a copy may be
// changed independently of its original.
#include <atomic>
#include <cstdint>

namespace mixgcn {

class object_identity {
public:
    object_identity() noexcept : value_(next()) {}
    object_identity(const object_identity&) noexcept : value_(next()) {}
    object_identity& operator=(const object_identity&) noexcept {
        value_ = next();
        return *this;
    }
    // Never 0, so 0 can mean "no identity".
    std::uint64_t value() const noexcept { return value_; }

private:
    static std::uint64_t next() noexcept {
        static std::atomic<std::uint64_t> counter{0};
        return counter.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    std::uint64_t value_;
};

}  // namespace mixgcn
