// Error handling for the whole core: LAMINA_CHECK and friends throw typed exceptions that the
// bindings map to Python's ValueError / TypeError / IndexError / RuntimeError / NotImplementedError.
// The core never aborts, exits or prints.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lamina {

struct ValueError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct TypeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct IndexError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct NotImplementedError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Plain std::runtime_error maps to RuntimeError.

namespace detail {
inline std::ostream& put(std::ostream& os, const std::vector<int64_t>& v) {
    os << '[';
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    return os << ']';
}
template <class T>
std::ostream& put(std::ostream& os, const T& v) {
    return os << v;
}
template <class... A>
std::string cat(const A&... a) {
    std::ostringstream os;
    (put(os, a), ...);
    return os.str();
}
}  // namespace detail

// "2x3x7x7": the compact form used in convolution / pooling messages.
inline std::string dims_str(const std::vector<int64_t>& v) {
    std::ostringstream os;
    for (size_t i = 0; i < v.size(); ++i) os << (i ? "x" : "") << v[i];
    return v.empty() ? std::string("scalar") : os.str();
}

}  // namespace lamina

#define LAMINA_THROW_IF_(cond, Exc, ...)                                   \
    do {                                                                    \
        if (!(cond)) throw Exc(::lamina::detail::cat(__VA_ARGS__));         \
    } while (0)

// Bad argument values or shapes -> ValueError.
#define LAMINA_CHECK(cond, ...) LAMINA_THROW_IF_(cond, ::lamina::ValueError, __VA_ARGS__)
// Wrong dtype / wrong kind of argument -> TypeError.
#define LAMINA_CHECK_TYPE(cond, ...) LAMINA_THROW_IF_(cond, ::lamina::TypeError, __VA_ARGS__)
// Out-of-range index or dimension -> IndexError.
#define LAMINA_CHECK_INDEX(cond, ...) LAMINA_THROW_IF_(cond, ::lamina::IndexError, __VA_ARGS__)
// State that cannot be satisfied (device, contiguity, missing feature) -> RuntimeError.
#define LAMINA_CHECK_RUNTIME(cond, ...) LAMINA_THROW_IF_(cond, std::runtime_error, __VA_ARGS__)
