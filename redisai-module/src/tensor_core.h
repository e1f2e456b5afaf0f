/*
 * tensor_core.h - pure float32 kernels and shape arithmetic. No Redis calls, no allocation.
 *
 * Every kernel works on a range [0, n) of coordinates so that the Redis glue can run a large
 * tensor in slices. Arrays may be misaligned (Redis sds buffers start 9 bytes into an
 * allocation), hence spirt_f32, a float type with alignment 1.
 *
 * Arithmetic is plain IEEE float32 in a fixed order (no -ffast-math, no FMA contraction) so the
 * results are reproducible bit for bit by the TypeScript reference (Math.fround after each op).
 */
#ifndef SPIRT_TENSOR_CORE_H
#define SPIRT_TENSOR_CORE_H

#include <stddef.h>
#include <stdint.h>

typedef float spirt_f32 __attribute__((aligned(1)));

#define SPIRT_MAX_DIMS 8
/* 2^31 elements = 8 GiB of float32: far above any model here, low enough that byte counts never overflow. */
#define SPIRT_MAX_NUMEL ((uint64_t)1 << 31)
#define SPIRT_MAX_SOURCES 1024

/* Product of dims into *numel. Returns 0, or -1 if ndims is outside 1..SPIRT_MAX_DIMS, a dim is
 * < 1, or the product exceeds SPIRT_MAX_NUMEL. */
int spirt_shape_numel(const int64_t *dims, int ndims, uint64_t *numel);

/* Index of the first NaN or +-Inf in x[0..n), or n if all are finite. */
size_t spirt_first_nonfinite(const spirt_f32 *x, size_t n);

/* dst[i] = (srcs[0][i] + srcs[1][i] + ... + srcs[k-1][i]) / k, summed left to right in float32.
 * dst may be one of the sources. k >= 1. */
void spirt_average(spirt_f32 *dst, const spirt_f32 *const *srcs, size_t k, size_t n);

/* acc[p] += sum over i in [0, n) of srcs[a][i] * srcs[b][i] for every pair a <= b, p counting the pairs
 * row by row (a = 0: b = 0..k-1, a = 1: b = 1..k-1, ...): k(k+1)/2 accumulators, in double precision. */
void spirt_gram_accumulate(double *acc, const spirt_f32 *const *srcs, size_t k, size_t n);

/* dst[i] = (float)(w[0] * srcs[0][i] + ... + w[k-1] * srcs[k-1][i]), summed in argument order in double
 * precision (a source with weight 0 is skipped). dst may be one of the sources. k >= 1. */
void spirt_wsum(spirt_f32 *dst, const spirt_f32 *const *srcs, const double *w, size_t k, size_t n);

typedef struct spirt_sgd_params {
  float lr;
  float momentum;     /* used when buf != NULL */
  float weight_decay; /* 0 = off (the term is skipped, as in PyTorch) */
  int nesterov;       /* requires a momentum buffer */
  int init_buf;       /* first step: buf = d instead of momentum * buf + d (PyTorch) */
} spirt_sgd_params;

/* In place, per coordinate (PyTorch torch.optim.SGD, dampening 0):
 *   d = g + wd * p                 (only when wd != 0)
 *   if buf: b = init ? d : momentum * b + d;  d = nesterov ? d + momentum * b : b
 *   p = p - lr * d
 * p, g and buf must not overlap each other. */
void spirt_sgd(spirt_f32 *p, const spirt_f32 *g, spirt_f32 *buf, size_t n, const spirt_sgd_params *hp);

typedef enum spirt_agg_rule {
  SPIRT_AGG_MEAN = 0,
  SPIRT_AGG_MEDIAN = 1,
  SPIRT_AGG_TRIMMED_MEAN = 2,
  SPIRT_AGG_MEAMED = 3,
} spirt_agg_rule;

/* Per-coordinate robust aggregation of k sources (see docs/commands.md for exact definitions).
 * scratch must hold k floats. Requires k >= 1 and, for TRIMMED_MEAN and MEAMED, 2f < k. */
void spirt_aggregate(spirt_f32 *dst, const spirt_f32 *const *srcs, size_t k, size_t n, spirt_agg_rule rule, size_t f,
                     float *scratch);

/* One coordinate of the rule above over v[0..k) (v is sorted in place). Exposed for tests. */
float spirt_aggregate_one(float *v, size_t k, spirt_agg_rule rule, size_t f);

#endif
