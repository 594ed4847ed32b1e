// OpenBLAS glue. OpenBLAS's thread count is one process-wide number (openblas_set_num_threads_local
// is not thread-local either: upstream it sets the same global, and this build does not export it),
// and a threaded OpenBLAS GEMM started inside one of our parallel regions deadlocks (its jobs wait
// on each other's packed panels but would run one after another on one thread). So OpenBLAS is
// pinned to one thread at load and never toggled, and gemm does its own threading: C is split into
// row or column blocks, one single-threaded OpenBLAS call per OpenMP thread. lamina keeps exactly
// one pool, set_num_threads governs it, and gemm is safe from any thread and any parallel region.
#include "blas.h"

#include <cblas.h>

#include <type_traits>

#include "check.h"
#include "gemm_f32.h"
#include "parallel.h"

namespace lamina {

namespace {

// Only reached if OpenBLAS is ever asked for more than one thread (not by lamina): runs its jobs
// on OpenMP rather than on a second pool.
void run_on_openmp(int sync, openblas_dojob_callback dojob, int numjobs, size_t jobdata_elsize,
                   void* jobdata, int dojob_data) {
    (void)sync;
    char* data = static_cast<char*>(jobdata);
#ifdef _OPENMP
    if (numjobs > 1 && !omp_in_parallel()) {
#pragma omp parallel for num_threads(numjobs) schedule(static, 1)
        for (int i = 0; i < numjobs; ++i) dojob(i, data + i * jobdata_elsize, dojob_data);
        return;
    }
#endif
    for (int i = 0; i < numjobs; ++i) dojob(i, data + i * jobdata_elsize, dojob_data);
}

inline CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

// K == 0 means C = beta * C; BLAS would reject the zero leading dimensions (and print).
template <class T>
void scale_rows(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// C's rows = row (gemm's row_add where the kernel does not take it itself).
template <class T>
void fill_rows(int64_t M, int64_t N, const T* row, T* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = row[j];
}

void check_dims(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
    constexpr int64_t lim = 2147483647;
    LAMINA_CHECK(M <= lim && N <= lim && K <= lim && lda <= lim && ldb <= lim && ldc <= lim,
                 "gemm: dimensions M=", M, " N=", N, " K=", K, " (lda=", lda, " ldb=", ldb, " ldc=", ldc,
                 ") exceed the 32-bit BLAS interface");
}

// OpenBLAS at one thread runs the call on the calling thread; anything else inside a parallel
// region would deadlock, so refuse (regions rethrow after the join) rather than hang.
void check_blas_serial() {
    LAMINA_CHECK_RUNTIME(scipy_openblas_get_num_threads() == 1,
                         "gemm: OpenBLAS's thread count was changed to ", scipy_openblas_get_num_threads(),
                         " outside lamina; lamina keeps it at 1 and threads GEMM itself (cpp/core/blas.cpp)");
}

void blas_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    scipy_cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), (blasint)M, (blasint)N, (blasint)K, alpha, A,
                      (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

void blas_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
               const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
    scipy_cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), (blasint)M, (blasint)N, (blasint)K, alpha, A,
                      (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

// One block of C on the calling thread: float32 takes lamina's own kernel (gemm_f32.cpp) where
// its size rule says it beats OpenBLAS; `own` is decided once for the whole call, so every block
// (and every thread count) uses the same kernel and results stay bit-identical.
void block_call(bool own, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_add) {
    if (own) return gemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_add);
    if (row_add) fill_rows(M, N, row_add, C, ldc);
    blas_call(ta, tb, M, N, K, alpha, A, lda, B, ldb, row_add ? 1.0f : beta, C, ldc);
}

void block_call(bool own, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc,
                const double* row_add) {
    (void)own;  // float64 stays on OpenBLAS
    if (row_add) fill_rows(M, N, row_add, C, ldc);
    blas_call(ta, tb, M, N, K, alpha, A, lda, B, ldb, row_add ? 1.0 : beta, C, ldc);
}

// A thread gets at least this many multiply-adds (OpenBLAS's own cut-off for threading is
// M*N*K <= 2^18) and at least kMinBlock rows or columns, kept a multiple of kAlign so blocks
// end on microkernel boundaries.
constexpr double kGrainMacs = 262144.0;
constexpr int64_t kMinBlock = 16;
constexpr int64_t kAlign = 16;

template <class T>
void gemm_impl(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
               const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const T* row_add) {
    if (M == 0 || N == 0) return;
    if (K == 0) return row_add ? fill_rows(M, N, row_add, C, ldc) : scale_rows(M, N, beta, C, ldc);
    check_dims(M, N, K, lda, ldb, ldc);
    check_blas_serial();
    const bool own = std::is_same_v<T, float> && gemm_f32_preferred(ta, tb, M, N, K);
    // Split the longer side of C: each thread then re-packs only the smaller operand.
    const bool split_m = M >= N;
    const int64_t D = split_m ? M : N;
    // Threads the work is worth first; the governor (effective_num_threads) is asked only then.
    int64_t nt = std::min<int64_t>(static_cast<int64_t>(double(M) * double(N) * double(K) / kGrainMacs),
                                   D / kMinBlock);
    if (nt > 1) nt = in_parallel_region() ? 1 : std::min<int64_t>(nt, effective_num_threads());
#ifdef _OPENMP
    if (nt > 1) {
        const int64_t block = ((D + nt - 1) / nt + kAlign - 1) / kAlign * kAlign;
        nt = (D + block - 1) / block;
#pragma omp parallel for num_threads(static_cast<int>(nt)) schedule(static, 1)
        for (int64_t t = 0; t < nt; ++t) {
            const int64_t d0 = t * block, d = std::min(D, d0 + block) - d0;
            if (split_m)
                block_call(own, ta, tb, d, N, K, alpha, ta ? A + d0 : A + d0 * lda, lda, B, ldb, beta,
                           C + d0 * ldc, ldc, row_add);
            else
                block_call(own, ta, tb, M, d, K, alpha, A, lda, tb ? B + d0 * ldb : B + d0, ldb, beta, C + d0,
                           ldc, row_add ? row_add + d0 : nullptr);
        }
        return;
    }
#endif
    block_call(own, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_add);
}

}  // namespace

void blas_init() {
    scipy_openblas_set_threads_callback_function(&run_on_openmp);
    scipy_openblas_set_num_threads(1);
}

const char* blas_corename() { return scipy_openblas_get_corename(); }
const char* blas_config() { return scipy_openblas_get_config(); }

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_add) {
    gemm_impl(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_add);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc, const double* row_add) {
    gemm_impl(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_add);
}

}  // namespace lamina
