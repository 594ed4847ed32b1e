// A small, portable random generator for HTM (xoshiro256** seeded by splitmix64). std::mt19937's
// distributions differ between standard libraries; this one gives the same stream everywhere, so
// seeded runs reproduce exactly and the state can be saved and restored as four integers.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace lamina::htm {

class Random {
public:
    explicit Random(uint64_t seed = 1) { reseed(seed); }

    void reseed(uint64_t seed) {
        for (auto& w : s_) {  // splitmix64 spreads a small seed over all 256 state bits
            seed += 0x9E3779B97F4A7C15ull;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            w = z ^ (z >> 31);
        }
    }

    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

    // Uniform integer in [0, n) (n > 0); Lemire's multiply-shift, bias below 2^-32 for n < 2^32.
    uint32_t below(uint32_t n) {
        return static_cast<uint32_t>(((next() >> 32) * static_cast<uint64_t>(n)) >> 32);
    }

    // Fisher-Yates shuffle of the first k positions: afterwards v[0..k) is a uniform sample.
    template <class Vec>
    void partial_shuffle(Vec& v, size_t k) {
        const size_t n = v.size();
        for (size_t i = 0; i < k && i + 1 < n; ++i) {
            size_t j = i + below(static_cast<uint32_t>(n - i));
            std::swap(v[i], v[j]);
        }
    }

    std::array<uint64_t, 4> state() const { return s_; }
    void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<uint64_t, 4> s_{};
};

}  // namespace lamina::htm
