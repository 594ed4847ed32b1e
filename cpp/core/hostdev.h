// LAMINA_HD marks helpers compiled for both the CPU and (under nvcc) the GPU, so index math and
// element formulas are written once and exercised by the CPU tests.
#pragma once
#if defined(__CUDACC__)
#define LAMINA_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Always inlined: a call left inside a loop (GCC declines to inline fast_expf into fast_tanhf on
// its own) stops that loop from vectorising.
#define LAMINA_HD inline __attribute__((always_inline))
#else
#define LAMINA_HD inline
#endif

// On the innermost loop of a generic kernel: inline everything the element functor calls, so the
// loop body has no calls left and vectorises (GCC otherwise outlines a large functor's operator()).
#if defined(__GNUC__) && !defined(__CUDACC__)
#define LAMINA_FLATTEN __attribute__((flatten))
#else
#define LAMINA_FLATTEN
#endif
