#include "gptq/blas.h"

#include <cblas.h>

#include <cstdint>
#include <limits>
#include <stdexcept>

// LAPACK's Fortran symbols (in libopenblas on Debian). gfortran passes the length of each
// character argument as a trailing size_t.
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t uplo_len);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t uplo_len);
}

namespace lmforge {

namespace {

int as_int(size_t v) {
  if (v > static_cast<size_t>(std::numeric_limits<int>::max())) throw std::length_error("matrix too large for BLAS");
  return static_cast<int>(v);
}

}  // namespace

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

void gemm_nt(size_t m, size_t n, size_t k, float alpha, const float* a, size_t lda, const float* b, size_t ldb,
             float beta, float* c, size_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, as_int(m), as_int(n), as_int(k), alpha, a, as_int(lda), b,
              as_int(ldb), beta, c, as_int(ldc));
}

void gemm_nn(size_t m, size_t n, size_t k, float alpha, const float* a, size_t lda, const float* b, size_t ldb,
             float beta, float* c, size_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, as_int(m), as_int(n), as_int(k), alpha, a, as_int(lda), b,
              as_int(ldb), beta, c, as_int(ldc));
}

void syrk_add_upper(size_t n, size_t t, const float* x, float* h) {
  if (n == 0 || t == 0) return;
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, as_int(n), as_int(t), 1.0f, x, as_int(n), 1.0f, h, as_int(n));
}

void symmetrize_from_upper(float* h, size_t n) {
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) h[j * n + i] = h[i * n + j];
}

// A row-major array read as column-major is its transpose: the row-major upper triangle is
// LAPACK's lower one. So "upper" here is 'L' there, and H = L L^T there is U^T U here.
bool cholesky_upper(double* a, size_t n) {
  if (n == 0) return true;
  const int ni = as_int(n);
  int info = 0;
  dpotrf_("L", &ni, a, &ni, &info, 1);
  if (info != 0) return false;
  for (size_t i = 1; i < n; ++i)
    for (size_t j = 0; j < i; ++j) a[i * n + j] = 0.0;
  return true;
}

void inverse_from_cholesky_upper(double* a, size_t n) {
  if (n == 0) return;
  const int ni = as_int(n);
  int info = 0;
  dpotri_("L", &ni, a, &ni, &info, 1);
  if (info != 0) throw std::runtime_error("singular Cholesky factor");
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) a[j * n + i] = a[i * n + j];
}

}  // namespace lmforge
