#pragma once
// Vocabulary shared by every communicator: which element types travel, which
// reductions exist, and the tags that say in which memory space a buffer lives.
#include <concepts>
#include <cstdint>

namespace mixgcn::comm {

// Element types every communicator moves. Anything else is a compile error at the call
// site rather than a silent reinterpretation of bytes.
template <class T>
concept element = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, std::int32_t> ||
                  std::same_as<T, std::int64_t> || std::same_as<T, std::uint64_t> ||
                  std::same_as<T, std::uint8_t>;

enum class reduce_op { sum, max };

inline const char* to_string(reduce_op op) noexcept { return op == reduce_op::sum ? "sum" : "max"; }

// Where a buffer lives. `hybrid` routes device buffers through its first communicator
// and host buffers through its second; the single-engine communicators take host
// buffers only.
enum class memory_space { host, device };

struct host_buffer_t {
    explicit host_buffer_t() = default;
    static constexpr memory_space space = memory_space::host;
};
struct device_buffer_t {
    explicit device_buffer_t() = default;
    static constexpr memory_space space = memory_space::device;
};
inline constexpr host_buffer_t host_buffer{};
inline constexpr device_buffer_t device_buffer{};

}  // namespace mixgcn::comm
