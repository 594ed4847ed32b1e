// Element conversion shared by the CPU copy loop and the CUDA copy kernel (LAMINA_HD): one rule
// for every dtype pair, so a float -> bool or float -> int64 cast reads the same on both sides.
#pragma once
#include <type_traits>

#include "../core/hostdev.h"

namespace lamina {

// bool is "nonzero" (as in NumPy/PyTorch), everything else a C++ static_cast (floats truncate
// toward zero when converted to int64).
template <class D, class S>
LAMINA_HD D convert_element(S v) {
    if constexpr (std::is_same_v<D, bool>) return v != S(0);
    else return static_cast<D>(v);
}

}  // namespace lamina
