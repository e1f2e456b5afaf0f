/* parse.c - argument parsing over spans; see parse.h. */
#include "parse.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(err, SPIRT_ERR_LEN, "ERR SPIRT: ");
  vsnprintf(err + n, SPIRT_ERR_LEN - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* Copies a short span into a NUL-terminated buffer for strtoll/strtod; -1 if too long or empty. */
static int span_cstr(spirt_span s, char *buf, size_t buflen) {
  if (s.len == 0 || s.len >= buflen) return -1;
  memcpy(buf, s.ptr, s.len);
  buf[s.len] = '\0';
  if (strlen(buf) != s.len) return -1; /* embedded NUL */
  if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n' || buf[0] == '\r' || buf[0] == '\f' || buf[0] == '\v')
    return -1;
  return 0;
}

int spirt_parse_i64(spirt_span s, int64_t *out) {
  char buf[64];
  if (span_cstr(s, buf, sizeof buf) != 0) return -1;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno != 0 || end != buf + s.len) return -1;
  *out = (int64_t)v;
  return 0;
}

int spirt_parse_double(spirt_span s, double *out) {
  char buf[64];
  if (span_cstr(s, buf, sizeof buf) != 0) return -1;
  char *end = NULL;
  errno = 0;
  double v = strtod(buf, &end);
  if (end != buf + s.len) return -1;
  if (errno == ERANGE && isinf(v)) return -1; /* overflow; underflow to 0/subnormal is fine */
  *out = v;
  return 0;
}

int spirt_span_eq(spirt_span s, const char *word) {
  size_t n = strlen(word);
  if (s.len != n) return 0;
  for (size_t i = 0; i < n; i++) {
    char a = s.ptr[i], b = word[i];
    if (a >= 'a' && a <= 'z') a = (char)(a - 'a' + 'A');
    if (b >= 'a' && b <= 'z') b = (char)(b - 'a' + 'A');
    if (a != b) return 0;
  }
  return 1;
}

static int is_data_keyword(spirt_span s) {
  return spirt_span_eq(s, "BLOB") || spirt_span_eq(s, "VALUES");
}

int spirt_parse_tensorset(const spirt_span *argv, int argc, spirt_tensorset_args *out, char *err) {
  memset(out, 0, sizeof *out);
  if (argc < 4)
    return fail(err, "wrong number of arguments: AI.TENSORSET key FLOAT dim [dim ...] [BLOB b | VALUES v ...]");
  if (!spirt_span_eq(argv[2], "FLOAT")) {
    static const char *const known[] = {"DOUBLE", "INT8",   "INT16", "INT32", "INT64",
                                        "UINT8",  "UINT16", "BOOL",  "STRING"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      if (spirt_span_eq(argv[2], known[i])) return fail(err, "unsupported data type %s (only FLOAT)", known[i]);
    return fail(err, "unknown data type (only FLOAT is supported)");
  }
  int i = 3;
  while (i < argc && !is_data_keyword(argv[i])) {
    if (out->ndims == SPIRT_MAX_DIMS) return fail(err, "too many dimensions (at most %d)", SPIRT_MAX_DIMS);
    int64_t d;
    if (spirt_parse_i64(argv[i], &d) != 0) return fail(err, "invalid dimension at argument %d (not an integer)", i);
    if (d < 1)
      return fail(err, "invalid dimension %lld: dimensions must be >= 1 (empty tensors are rejected)", (long long)d);
    out->dims[out->ndims++] = d;
    i++;
  }
  if (out->ndims == 0) return fail(err, "missing shape: give at least one dimension");
  if (spirt_shape_numel(out->dims, out->ndims, &out->numel) != 0)
    return fail(err, "tensor too large (more than %llu elements)", (unsigned long long)SPIRT_MAX_NUMEL);
  if (i == argc) {
    out->mode = SPIRT_DATA_NONE;
    return 0;
  }
  if (spirt_span_eq(argv[i], "BLOB")) {
    if (argc != i + 2) return fail(err, "BLOB takes exactly one argument and must come last");
    out->mode = SPIRT_DATA_BLOB;
    out->blob = argv[i + 1];
    if (out->blob.len != out->numel * 4)
      return fail(err, "blob has %zu bytes but shape needs %llu (FLOAT is 4 bytes)", out->blob.len,
                  (unsigned long long)(out->numel * 4));
    return 0;
  }
  /* VALUES */
  out->mode = SPIRT_DATA_VALUES;
  out->values_first = i + 1;
  uint64_t count = (uint64_t)(argc - i - 1);
  if (count != out->numel)
    return fail(err, "got %llu values but shape needs %llu", (unsigned long long)count, (unsigned long long)out->numel);
  return 0;
}

int spirt_parse_values(const spirt_span *argv, const spirt_tensorset_args *a, float *out, char *err) {
  for (uint64_t j = 0; j < a->numel; j++) {
    double v;
    if (spirt_parse_double(argv[a->values_first + (int)j], &v) != 0)
      return fail(err, "invalid value at position %llu (not a number)", (unsigned long long)j);
    if (isfinite(v) && fabs(v) > FLT_MAX)
      return fail(err, "value at position %llu overflows FLOAT", (unsigned long long)j);
    out[j] = (float)v;
  }
  return 0;
}

int spirt_parse_tensorget(const spirt_span *argv, int argc, int *flags, char *err) {
  if (argc < 2 || argc > 4) return fail(err, "wrong number of arguments: AI.TENSORGET key [META] [BLOB | VALUES]");
  int f = 0;
  for (int i = 2; i < argc; i++) {
    if (spirt_span_eq(argv[i], "META") && !(f & SPIRT_GET_META))
      f |= SPIRT_GET_META;
    else if (spirt_span_eq(argv[i], "BLOB") && !(f & (SPIRT_GET_BLOB | SPIRT_GET_VALUES)))
      f |= SPIRT_GET_BLOB;
    else if (spirt_span_eq(argv[i], "VALUES") && !(f & (SPIRT_GET_BLOB | SPIRT_GET_VALUES)))
      f |= SPIRT_GET_VALUES;
    else
      return fail(err, "invalid or repeated option at argument %d (expected META, BLOB or VALUES)", i);
  }
  if (f == 0) f = SPIRT_GET_META | SPIRT_GET_VALUES;
  *flags = f;
  return 0;
}

/* Trailing CHECKFINITE flag shared by the ops. Returns the new argc. */
static int strip_checkfinite(const spirt_span *argv, int argc, int min_argc, int *flag) {
  *flag = 0;
  if (argc > min_argc && spirt_span_eq(argv[argc - 1], "CHECKFINITE")) {
    *flag = 1;
    return argc - 1;
  }
  return argc;
}

int spirt_parse_average(const spirt_span *argv, int argc, spirt_average_args *out, char *err) {
  memset(out, 0, sizeof *out);
  if (argc < 3) return fail(err, "wrong number of arguments: SPIRT.AVERAGE dest src [src ...] [CHECKFINITE]");
  argc = strip_checkfinite(argv, argc, 3, &out->check_finite);
  out->dest = 1;
  out->src_first = 2;
  out->nsrc = argc - 2;
  if (out->nsrc > SPIRT_MAX_SOURCES) return fail(err, "too many sources (at most %d)", SPIRT_MAX_SOURCES);
  return 0;
}

int spirt_parse_wsum(const spirt_span *argv, int argc, spirt_wsum_args *out, double *weights, char *err) {
  memset(out, 0, sizeof *out);
  if (argc < 5) return fail(err, "wrong number of arguments: SPIRT.WSUM dest n src [src ...] w [w ...] [CHECKFINITE]");
  argc = strip_checkfinite(argv, argc, 5, &out->check_finite);
  int64_t n;
  if (spirt_parse_i64(argv[2], &n) != 0 || n < 1 || n > SPIRT_MAX_SOURCES)
    return fail(err, "n must be an integer 1..%d", SPIRT_MAX_SOURCES);
  if (argc != 3 + 2 * n) return fail(err, "expected %d sources and %d weights after n", (int)n, (int)n);
  out->dest = 1;
  out->nsrc = (int)n;
  out->src_first = 3;
  out->w_first = 3 + (int)n;
  for (int i = 0; i < n; i++) {
    double w;
    if (spirt_parse_double(argv[out->w_first + i], &w) != 0 || !isfinite(w))
      return fail(err, "weight %d must be a finite number", i + 1);
    if (weights) weights[i] = w;
  }
  return 0;
}

int spirt_parse_gram(const spirt_span *argv, int argc, spirt_gram_args *out, char *err) {
  memset(out, 0, sizeof *out);
  if (argc < 2) return fail(err, "wrong number of arguments: SPIRT.GRAM src [src ...] [CHECKFINITE]");
  argc = strip_checkfinite(argv, argc, 2, &out->check_finite);
  out->src_first = 1;
  out->nsrc = argc - 1;
  if (out->nsrc > SPIRT_MAX_GRAM) return fail(err, "too many sources (at most %d)", SPIRT_MAX_GRAM);
  return 0;
}

static int parse_nonneg_float(spirt_span s, const char *what, float *out, char *err) {
  double v;
  if (spirt_parse_double(s, &v) != 0 || !isfinite(v) || fabs(v) > FLT_MAX)
    return fail(err, "%s must be a finite number", what);
  if (v < 0) return fail(err, "%s must be >= 0", what);
  *out = (float)v;
  return 0;
}

int spirt_parse_sgd(const spirt_span *argv, int argc, spirt_sgd_args *out, char *err) {
  memset(out, 0, sizeof *out);
  if (argc < 5)
    return fail(err,
                "wrong number of arguments: SPIRT.SGD params grad LR lr [MOMENTUM m buf] [NESTEROV] "
                "[WEIGHTDECAY wd] [CHECKFINITE]");
  out->params = 1;
  out->grad = 2;
  int have_lr = 0, have_mom = 0, have_wd = 0;
  for (int i = 3; i < argc;) {
    if (spirt_span_eq(argv[i], "LR") && !have_lr) {
      if (i + 1 >= argc) return fail(err, "LR needs a value");
      if (parse_nonneg_float(argv[i + 1], "LR", &out->hp.lr, err) != 0) return -1;
      have_lr = 1;
      i += 2;
    } else if (spirt_span_eq(argv[i], "MOMENTUM") && !have_mom) {
      if (i + 2 >= argc) return fail(err, "MOMENTUM needs a value and a buffer key");
      if (parse_nonneg_float(argv[i + 1], "MOMENTUM", &out->hp.momentum, err) != 0) return -1;
      out->buf = i + 2;
      have_mom = 1;
      i += 3;
    } else if (spirt_span_eq(argv[i], "WEIGHTDECAY") && !have_wd) {
      if (i + 1 >= argc) return fail(err, "WEIGHTDECAY needs a value");
      if (parse_nonneg_float(argv[i + 1], "WEIGHTDECAY", &out->hp.weight_decay, err) != 0) return -1;
      have_wd = 1;
      i += 2;
    } else if (spirt_span_eq(argv[i], "NESTEROV") && !out->hp.nesterov) {
      out->hp.nesterov = 1;
      i++;
    } else if (spirt_span_eq(argv[i], "CHECKFINITE") && !out->check_finite) {
      out->check_finite = 1;
      i++;
    } else {
      return fail(err, "unknown or repeated option at argument %d", i);
    }
  }
  if (!have_lr) return fail(err, "LR is required");
  if (out->hp.nesterov && (!have_mom || out->hp.momentum == 0.0f))
    return fail(err, "NESTEROV needs MOMENTUM with a value > 0");
  return 0;
}

int spirt_parse_aggregate(const spirt_span *argv, int argc, spirt_aggregate_args *out, char *err) {
  memset(out, 0, sizeof *out);
  if (argc < 4)
    return fail(err,
                "wrong number of arguments: SPIRT.AGGREGATE dest MEAN|MEDIAN|TRIMMEDMEAN f|MEAMED f src "
                "[src ...] [CHECKFINITE]");
  out->dest = 1;
  int i = 3;
  if (spirt_span_eq(argv[2], "MEAN"))
    out->rule = SPIRT_AGG_MEAN;
  else if (spirt_span_eq(argv[2], "MEDIAN"))
    out->rule = SPIRT_AGG_MEDIAN;
  else if (spirt_span_eq(argv[2], "TRIMMEDMEAN"))
    out->rule = SPIRT_AGG_TRIMMED_MEAN;
  else if (spirt_span_eq(argv[2], "MEAMED"))
    out->rule = SPIRT_AGG_MEAMED;
  else
    return fail(err, "unknown rule (expected MEAN, MEDIAN, TRIMMEDMEAN or MEAMED)");
  if (out->rule == SPIRT_AGG_TRIMMED_MEAN || out->rule == SPIRT_AGG_MEAMED) {
    int64_t f;
    if (spirt_parse_i64(argv[3], &f) != 0 || f < 0 || f > SPIRT_MAX_SOURCES)
      return fail(err, "f must be an integer between 0 and %d", SPIRT_MAX_SOURCES);
    out->f = (size_t)f;
    i = 4;
  }
  argc = strip_checkfinite(argv, argc, i + 1, &out->check_finite);
  out->src_first = i;
  out->nsrc = argc - i;
  if (out->nsrc < 1) return fail(err, "at least one source is required");
  if (out->nsrc > SPIRT_MAX_SOURCES) return fail(err, "too many sources (at most %d)", SPIRT_MAX_SOURCES);
  if ((out->rule == SPIRT_AGG_TRIMMED_MEAN || out->rule == SPIRT_AGG_MEAMED) && 2 * out->f >= (size_t)out->nsrc)
    return fail(err, "f=%zu needs more than %zu sources (2f < n), got %d", out->f, 2 * out->f, out->nsrc);
  return 0;
}

int spirt_check_stored_tensor(int encver, uint64_t ndims, const uint64_t *dims, size_t payload_len, uint64_t *numel,
                              char *err) {
  if (encver != SPIRT_TENSOR_ENCVER) return fail(err, "unknown tensor encoding version %d", encver);
  if (ndims < 1 || ndims > SPIRT_MAX_DIMS) return fail(err, "stored tensor has %llu dims", (unsigned long long)ndims);
  int64_t sdims[SPIRT_MAX_DIMS];
  for (uint64_t i = 0; i < ndims; i++) {
    if (dims[i] < 1 || dims[i] > SPIRT_MAX_NUMEL) return fail(err, "stored tensor has an invalid dimension");
    sdims[i] = (int64_t)dims[i];
  }
  if (spirt_shape_numel(sdims, (int)ndims, numel) != 0) return fail(err, "stored tensor is too large");
  if (payload_len != *numel * 4)
    return fail(err, "stored tensor payload has %zu bytes, shape needs %llu", payload_len,
                (unsigned long long)(*numel * 4));
  return 0;
}
