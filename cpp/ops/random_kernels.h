// float32 fast paths of the random fills, on a contiguous buffer. Same counter scheme as the
// generic path (element i uses Philox counter offset + i; normals come in Box-Muller pairs from
// counter offset + i/2), written as straight loops that vectorise: this file is compiled with
// -ffast-math so that logf / sincosf become glibc's vector versions (libmvec).
#pragma once
#include <cstdint>

namespace lamina {

// p[i] in [low, high) (never high, even after rounding).
void uniform_float_fill(float* p, int64_t n, uint64_t seed, uint64_t offset, float low, float high);
// p[i] ~ N(mean, std^2).
void normal_float_fill(float* p, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

}  // namespace lamina
