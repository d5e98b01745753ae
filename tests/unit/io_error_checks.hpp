#pragma once
// Helpers the I/O tests share: run a call and keep the io_error it raised (none for
// success or any other exception), and a substring test for its message.
#include <optional>
#include <string_view>

#include "mixgcn/core/error.hpp"

namespace mixgcn::test_support {

template <class F>
std::optional<io_error> io_error_of(F&& f) {
    try {
        f();
    } catch (const io_error& e) {
        return e;
    } catch (...) {
        return std::nullopt;
    }
    return std::nullopt;
}

inline bool contains(std::string_view hay, std::string_view needle) {
    return hay.find(needle) != std::string_view::npos;
}

}  // namespace mixgcn::test_support
