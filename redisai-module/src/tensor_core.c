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

void spirt_aggregate(spirt_f32 *dst, const spirt_f32 *const *srcs, size_t k, size_t n, spirt_agg_rule rule, size_t f,
                     float *scratch) {
  if (rule == SPIRT_AGG_MEAN) {
    spirt_average(dst, srcs, k, n);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < k; j++) scratch[j] = srcs[j][i];
    dst[i] = spirt_aggregate_one(scratch, k, rule, f);
  }
}
