// Where a tensor's storage lives. Ops route on this (and only this) at their public entry point.
#pragma once
#include <string>

#include "check.h"

namespace lamina {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };

struct Device {
    DeviceType type = DeviceType::CPU;
    int index = 0;
    bool is_cpu() const { return type == DeviceType::CPU; }
    bool is_cuda() const { return type == DeviceType::CUDA; }
    bool operator==(const Device& o) const { return type == o.type && index == o.index; }
    bool operator!=(const Device& o) const { return !(*this == o); }
    std::string str() const {
        return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
    }
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace lamina
