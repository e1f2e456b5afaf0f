/* tensor_core.c - pure float32 kernels; see tensor_core.h. */
#include "tensor_core.h"

#include <string.h>

int spirt_shape_numel(const int64_t *dims, int ndims, uint64_t *numel) {
  if (ndims < 1 || ndims > SPIRT_MAX_DIMS) return -1;
  uint64_t total = 1;
  for (int i = 0; i < ndims; i++) {
    if (dims[i] < 1 || (uint64_t)dims[i] > SPIRT_MAX_NUMEL) return -1;
    total *= (uint64_t)dims[i]; /* both factors <= 2^31, so no 64-bit overflow before the check */
    if (total > SPIRT_MAX_NUMEL) return -1;
  }
  *numel = total;
  return 0;
}

size_t spirt_first_nonfinite(const spirt_f32 *x, size_t n) {
  /* Branch-free scan in blocks so the common (all finite) case vectorises. */
  const size_t block = 1024;
  for (size_t start = 0; start < n; start += block) {
    size_t end = start + block < n ? start + block : n;
    uint32_t bad = 0;
    for (size_t i = start; i < end; i++) {
      uint32_t bits;
      memcpy(&bits, (const char *)(x + i), sizeof bits);
      bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad) {
      for (size_t i = start; i < end; i++) {
        uint32_t bits;
        memcpy(&bits, (const char *)(x + i), sizeof bits);
        if ((bits & 0x7f800000u) == 0x7f800000u) return i;
      }
    }
  }
  return n;
}

/* Coordinates per block: the accumulator (8 KiB) stays in L1 while each source streams through once. */
#define SPIRT_BLOCK 2048

void spirt_average(spirt_f32 *dst, const spirt_f32 *const *srcs, size_t k, size_t n) {
  float acc[SPIRT_BLOCK] __attribute__((aligned(64)));
  const float fk = (float)k;
  for (size_t start = 0; start < n; start += SPIRT_BLOCK) {
    size_t len = n - start < SPIRT_BLOCK ? n - start : SPIRT_BLOCK;
    const spirt_f32 *s0 = srcs[0] + start;
    for (size_t i = 0; i < len; i++) acc[i] = s0[i];
    for (size_t j = 1; j < k; j++) {
      const spirt_f32 *s = srcs[j] + start;
      for (size_t i = 0; i < len; i++) acc[i] += s[i];
    }
    /* All sources of this block are read before dst is written, so dst may alias a source. */
    spirt_f32 *d = dst + start;
    for (size_t i = 0; i < len; i++) d[i] = acc[i] / fk;
  }
}

void spirt_gram_accumulate(double *acc, const spirt_f32 *const *srcs, size_t k, size_t n) {
  size_t p = 0;
  for (size_t a = 0; a < k; a++) {
    const spirt_f32 *x = srcs[a];
    for (size_t b = a; b < k; b++) {
      const spirt_f32 *y = srcs[b];
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      size_t i = 0;
      for (; i + 4 <= n; i += 4) {
        s0 += (double)x[i] * (double)y[i];
        s1 += (double)x[i + 1] * (double)y[i + 1];
        s2 += (double)x[i + 2] * (double)y[i + 2];
        s3 += (double)x[i + 3] * (double)y[i + 3];
      }
      for (; i < n; i++) s0 += (double)x[i] * (double)y[i];
      acc[p++] += (s0 + s1) + (s2 + s3);
    }
  }
}

void spirt_wsum(spirt_f32 *dst, const spirt_f32 *const *srcs, const double *w, size_t k, size_t n) {
  double acc[SPIRT_BLOCK];
  for (size_t start = 0; start < n; start += SPIRT_BLOCK) {
    size_t len = n - start < SPIRT_BLOCK ? n - start : SPIRT_BLOCK;
    for (size_t i = 0; i < len; i++) acc[i] = 0;
    for (size_t j = 0; j < k; j++) {
      if (w[j] == 0) continue;
      const spirt_f32 *s = srcs[j] + start;
      const double wj = w[j];
      for (size_t i = 0; i < len; i++) acc[i] += wj * (double)s[i];
    }
    spirt_f32 *d = dst + start;
    for (size_t i = 0; i < len; i++) d[i] = (float)acc[i];
  }
}

/* One momentum loop per flag combination (the flags are compile-time constants after inlining),
 * so every variant is a branch-free loop the compiler vectorises. */
static inline __attribute__((always_inline)) void sgd_momentum_loop(spirt_f32 *p, const spirt_f32 *g, spirt_f32 *buf,
                                                                    size_t n, float lr, float mu, float wd,
                                                                    const int use_wd, const int init,
                                                                    const int nesterov) {
  for (size_t i = 0; i < n; i++) {
    float d = g[i];
    if (use_wd) d = d + wd * p[i];
    float b = init ? d : mu * buf[i] + d;
    buf[i] = b;
    d = nesterov ? d + mu * b : b;
    p[i] = p[i] - lr * d;
  }
}

void spirt_sgd(spirt_f32 *p, const spirt_f32 *g, spirt_f32 *buf, size_t n, const spirt_sgd_params *hp) {
  const float lr = hp->lr, mu = hp->momentum, wd = hp->weight_decay;
  const int use_wd = wd != 0.0f;
  if (buf == NULL) {
    if (!use_wd) {
      for (size_t i = 0; i < n; i++) p[i] = p[i] - lr * g[i];
    } else {
      for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        p[i] = p[i] - lr * d;
      }
    }
    return;
  }
  const int variant = (use_wd ? 4 : 0) | (hp->init_buf ? 2 : 0) | (hp->nesterov ? 1 : 0);
  switch (variant) {
    case 0: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 0, 0, 0); break;
    case 1: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 0, 0, 1); break;
    case 2: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 0, 1, 0); break;
    case 3: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 0, 1, 1); break;
    case 4: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 1, 0, 0); break;
    case 5: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 1, 0, 1); break;
    case 6: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 1, 1, 0); break;
    default: sgd_momentum_loop(p, g, buf, n, lr, mu, wd, 1, 1, 1); break;
  }
}

static void sort_floats(float *v, size_t k) {
  /* Insertion sort: k is the number of peers or shards (small). */
  for (size_t i = 1; i < k; i++) {
    float x = v[i];
    size_t j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

static float sorted_median(const float *v, size_t k) {
  if (k & 1) return v[k / 2];
  return (v[k / 2 - 1] + v[k / 2]) * 0.5f;
}

static float mean_of(const float *v, size_t count) {
  float s = v[0];
  for (size_t i = 1; i < count; i++) s += v[i];
  return s / (float)count;
}

float spirt_aggregate_one(float *v, size_t k, spirt_agg_rule rule, size_t f) {
  if (rule == SPIRT_AGG_MEAN) return mean_of(v, k);
  sort_floats(v, k);
  switch (rule) {
    case SPIRT_AGG_MEDIAN: return sorted_median(v, k);
    case SPIRT_AGG_TRIMMED_MEAN: return mean_of(v + f, k - 2 * f);
    case SPIRT_AGG_MEAMED: {
      /* The k-f values closest to the median form a contiguous run of the sorted values. Grow it
       * from the middle, taking the nearer neighbour each step; on a tie take the lower one. */
      const float m = sorted_median(v, k);
      const size_t want = k - f;
      size_t lo = (k - 1) / 2, hi = lo + 1; /* next candidates: v[lo] (downwards), v[hi] (upwards) */
      size_t first = lo + 1, taken = 0;
      int lo_open = 1;
      while (taken < want) {
        int take_low;
        if (!lo_open)
          take_low = 0;
        else if (hi >= k)
          take_low = 1;
        else
          take_low = (m - v[lo]) <= (v[hi] - m);
        if (take_low) {
          first = lo;
          if (lo == 0)
            lo_open = 0;
          else
            lo--;
        } else {
          hi++;
        }
        taken++;
      }
      return mean_of(v + first, want);
    }
    default: return mean_of(v, k);
  }
}

/* Four inputs (the common case: 4 peers) for MEDIAN, and TRIMMEDMEAN / MEAMED with f = 1, without branches
 * that depend on the data: a 5-comparator sorting network, then the same choices as spirt_aggregate_one made
 * with selects. The results are bit-identical to the generic path (the sorted values are the same; the only
 * values a network may order differently from the stable insertion sort are +0 and -0, whose sums agree). */
#define SPIRT_CSWAP(x, y)              \
  do {                                 \
    const float lo_ = (y) < (x) ? (y) : (x); \
    const float hi_ = (y) < (x) ? (x) : (y); \
    (x) = lo_;                         \
    (y) = hi_;                         \
  } while (0)

#define SPIRT_SORT4(A, B, C, D, i)                     \
  float s0 = (A)[i], s1 = (B)[i], s2 = (C)[i], s3 = (D)[i]; \
  SPIRT_CSWAP(s0, s1);                                  \
  SPIRT_CSWAP(s2, s3);                                  \
  SPIRT_CSWAP(s0, s2);                                  \
  SPIRT_CSWAP(s1, s3);                                  \
  SPIRT_CSWAP(s1, s2)

/* One loop per rule, so that each vectorises. */
static void aggregate4(spirt_f32 *dst, const spirt_f32 *const *srcs, size_t n, spirt_agg_rule rule) {
  const spirt_f32 *A = srcs[0], *B = srcs[1], *C = srcs[2], *D = srcs[3];
  if (rule == SPIRT_AGG_MEDIAN) {
    for (size_t i = 0; i < n; i++) {
      SPIRT_SORT4(A, B, C, D, i);
      (void)s0;
      (void)s3;
      dst[i] = (s1 + s2) * 0.5f;
    }
  } else if (rule == SPIRT_AGG_TRIMMED_MEAN) {
    for (size_t i = 0; i < n; i++) {
      SPIRT_SORT4(A, B, C, D, i);
      (void)s0;
      (void)s3;
      dst[i] = (s1 + s2) / 2.0f;
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      SPIRT_SORT4(A, B, C, D, i);
      const float m = (s1 + s2) * 0.5f;
      /* spirt_aggregate_one's walk from the middle reduces, for k = 4 and f = 1, to one comparison: it keeps
       * s0 exactly when (m - s0) <= (s3 - m). (Its other comparisons are implied: subtraction is monotonic,
       * so m - s0 >= m - s1 and s3 - m >= s2 - m.) The run s0,s1,s2 or s1,s2,s3 is summed in sorted order;
       * selecting the operands rather than two results keeps the loop free of branches. */
      const int low = (m - s0) <= (s3 - m);
      const float p = low ? s0 : s1, q = low ? s1 : s2, r = low ? s2 : s3;
      dst[i] = ((p + q) + r) / 3.0f;
    }
  }
}

void spirt_aggregate(spirt_f32 *dst, const spirt_f32 *const *srcs, size_t k, size_t n, spirt_agg_rule rule, size_t f,
                     float *scratch) {
  if (rule == SPIRT_AGG_MEAN) {
    spirt_average(dst, srcs, k, n);
    return;
  }
  if (k == 4 && (rule == SPIRT_AGG_MEDIAN || f == 1)) {
    aggregate4(dst, srcs, n, rule);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < k; j++) scratch[j] = srcs[j][i];
    dst[i] = spirt_aggregate_one(scratch, k, rule, f);
  }
}
