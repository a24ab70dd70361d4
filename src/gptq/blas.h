// The few dense linear-algebra routines GPTQ needs, on OpenBLAS (and the LAPACK it ships):
// products for the calibration forward pass and the lazy block updates, the symmetric rank-k
// update that accumulates Hessians, and the Cholesky factorization / inverse. Row-major
// float32 (products) and float64 (factorizations) arrays; thin wrappers so the rest of
// src/gptq/ never sees the Fortran calling conventions.
#pragma once

#include <cstddef>

namespace lmforge {

// Threads OpenBLAS uses for the calls below (1 or more).
void blas_set_threads(int n);

// C[m x n] = alpha * A[m x k] * B^T + beta * C, with B stored [n x k] (a weight matrix
// applied to rows of activations: Y = X W^T). Leading dimensions are the row lengths.
void gemm_nt(size_t m, size_t n, size_t k, float alpha, const float* a, size_t lda, const float* b, size_t ldb,
             float beta, float* c, size_t ldc);

// C[m x n] = alpha * A[m x k] * B[k x n] + beta * C.
void gemm_nn(size_t m, size_t n, size_t k, float alpha, const float* a, size_t lda, const float* b, size_t ldb,
             float beta, float* c, size_t ldc);

// The upper triangle of H[n x n] += X^T X for X [t x n] (rows are tokens). The lower triangle
// is left alone; symmetrize_from_upper() fills it once accumulation is done.
void syrk_add_upper(size_t n, size_t t, const float* x, float* h);
void symmetrize_from_upper(float* h, size_t n);

// In place: the Cholesky factor of the symmetric positive definite A [n x n] (full storage
// read), H = U^T U with U upper triangular in the upper triangle; the strictly lower triangle
// is zeroed. Returns false (A left partly overwritten) when A is not positive definite.
bool cholesky_upper(double* a, size_t n);

// In place: the inverse of the symmetric positive definite matrix whose upper Cholesky factor
// cholesky_upper() left in `a`; full symmetric storage on return.
void inverse_from_cholesky_upper(double* a, size_t n);

}  // namespace lmforge
