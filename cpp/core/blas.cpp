// OpenBLAS glue. OpenBLAS (pthreads build) would start its own thread pool; we hand it a callback
// that runs its jobs on OpenMP instead, so lamina has exactly one pool and set_num_threads governs
// both. Inside one of our parallel regions the callback runs the jobs inline on the calling thread.
#include "blas.h"

#include <cblas.h>

#include "parallel.h"

namespace lamina {

namespace {

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

void check_dims(int64_t M, int64_t N, int64_t K) {
    constexpr int64_t lim = 2147483647;
    LAMINA_CHECK(M <= lim && N <= lim && K <= lim, "gemm: dimensions M=", M, " N=", N, " K=", K,
                 " exceed the 32-bit BLAS interface");
}

}  // namespace

BlasSerialScope::BlasSerialScope() { scipy_openblas_set_num_threads(1); }
BlasSerialScope::~BlasSerialScope() { scipy_openblas_set_num_threads(get_num_threads()); }

// A threaded GEMM started inside a parallel region would deadlock (see BlasSerialScope): fail loudly.
static void check_not_nested() {
    LAMINA_CHECK_RUNTIME(!in_parallel_region() || scipy_openblas_get_num_threads() == 1,
                         "gemm: called inside a parallel region while BLAS is multi-threaded; hold a "
                         "BlasSerialScope around the region (cpp/core/blas.h)");
}

void blas_init() { scipy_openblas_set_threads_callback_function(&run_on_openmp); }

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }

const char* blas_corename() { return scipy_openblas_get_corename(); }
const char* blas_config() { return scipy_openblas_get_config(); }

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) return scale_rows(M, N, beta, C, ldc);
    check_dims(M, N, K);
    check_not_nested();
    scipy_cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), (blasint)M, (blasint)N, (blasint)K, alpha, A,
                      (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) return scale_rows(M, N, beta, C, ldc);
    check_dims(M, N, K);
    check_not_nested();
    scipy_cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), (blasint)M, (blasint)N, (blasint)K, alpha, A,
                      (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

}  // namespace lamina
