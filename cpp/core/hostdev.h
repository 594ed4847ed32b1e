// LAMINA_HD marks helpers compiled for both the CPU and (under nvcc) the GPU, so index math and
// element formulas are written once and exercised by the CPU tests.
#pragma once
#if defined(__CUDACC__)
#define LAMINA_HD __host__ __device__ __forceinline__
#else
#define LAMINA_HD inline
#endif
