// Element types: float32 (default), float64 (gradient checks), int64 (labels, indices), bool (masks).
// dispatch_* call a generic lambda with a value of the C++ scalar type: [&](auto t){ using T = decltype(t); }.
#pragma once
#include <cstdint>
#include <string>

#include "check.h"

namespace lamina {

enum class DType : uint8_t { Float32 = 0, Float64 = 1, Int64 = 2, Bool = 3 };

inline size_t itemsize(DType d) {
    switch (d) {
        case DType::Float32: return 4;
        case DType::Float64: return 8;
        case DType::Int64: return 8;
        case DType::Bool: return 1;
    }
    return 0;
}

inline const char* dtype_name(DType d) {
    switch (d) {
        case DType::Float32: return "float32";
        case DType::Float64: return "float64";
        case DType::Int64: return "int64";
        case DType::Bool: return "bool";
    }
    return "?";
}

inline bool is_floating(DType d) { return d == DType::Float32 || d == DType::Float64; }

// Result type of a binary op, NumPy/PyTorch style for the types we have: bool < int64 < float32 < float64.
inline DType promote_types(DType a, DType b) {
    auto rank = [](DType d) {
        switch (d) {
            case DType::Bool: return 0;
            case DType::Int64: return 1;
            case DType::Float32: return 2;
            case DType::Float64: return 3;
        }
        return 0;
    };
    return rank(a) >= rank(b) ? a : b;
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

// Every dtype.
template <class F>
decltype(auto) dispatch_all(DType d, const char* op, F&& f) {
    switch (d) {
        case DType::Float32: return f(float{});
        case DType::Float64: return f(double{});
        case DType::Int64: return f(int64_t{});
        case DType::Bool: return f(bool{});
    }
    throw TypeError(detail::cat(op, ": unsupported dtype"));
}

// Floating types only; anything else is a TypeError naming the op.
template <class F>
decltype(auto) dispatch_float(DType d, const char* op, F&& f) {
    switch (d) {
        case DType::Float32: return f(float{});
        case DType::Float64: return f(double{});
        default: break;
    }
    throw TypeError(detail::cat(op, ": expected a floating-point tensor (float32 or float64), got ",
                                dtype_name(d)));
}

// Numeric (no bool).
template <class F>
decltype(auto) dispatch_numeric(DType d, const char* op, F&& f) {
    switch (d) {
        case DType::Float32: return f(float{});
        case DType::Float64: return f(double{});
        case DType::Int64: return f(int64_t{});
        default: break;
    }
    throw TypeError(detail::cat(op, ": expected a numeric tensor, got ", dtype_name(d)));
}

}  // namespace lamina
