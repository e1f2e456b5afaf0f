/*
 * parse.h - argument parsing for every command, over plain (pointer, length) spans.
 *
 * No Redis calls: the glue converts RedisModuleString arguments to spans, so the same code runs
 * in the C unit tests and the fuzz target. Each parser either fills its output struct and
 * returns 0, or writes an "ERR SPIRT: ..." message to err and returns -1. Nothing is mutated.
 */
#ifndef SPIRT_PARSE_H
#define SPIRT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "tensor_core.h"

typedef struct spirt_span {
  const char *ptr;
  size_t len;
} spirt_span;

#define SPIRT_ERR_LEN 256

/* Strict number parsing: the whole span must be consumed, no spaces, at most 63 characters. */
int spirt_parse_i64(spirt_span s, int64_t *out);
int spirt_parse_double(spirt_span s, double *out);
int spirt_span_eq(spirt_span s, const char *word); /* ASCII case-insensitive */

typedef enum { SPIRT_DATA_NONE = 0, SPIRT_DATA_BLOB = 1, SPIRT_DATA_VALUES = 2 } spirt_data_mode;

typedef struct spirt_tensorset_args {
  int ndims;
  int64_t dims[SPIRT_MAX_DIMS];
  uint64_t numel;
  spirt_data_mode mode;
  spirt_span blob;  /* mode == BLOB: numel * 4 bytes, checked */
  int values_first; /* mode == VALUES: argv index of the first value; numel values follow */
} spirt_tensorset_args;

/* AI.TENSORSET key FLOAT dim [dim ...] [BLOB b | VALUES v [v ...]]   (argv[0] is the command) */
int spirt_parse_tensorset(const spirt_span *argv, int argc, spirt_tensorset_args *out, char *err);

/* Parses the numel VALUES of a parsed TENSORSET into out (numel floats). Rejects values that do
 * not parse or overflow float32 (inf/nan literals are accepted, as RedisAI does). */
int spirt_parse_values(const spirt_span *argv, const spirt_tensorset_args *a, float *out, char *err);

#define SPIRT_GET_META 1
#define SPIRT_GET_BLOB 2
#define SPIRT_GET_VALUES 4
/* AI.TENSORGET key [META] [BLOB | VALUES]; no option means META VALUES. */
int spirt_parse_tensorget(const spirt_span *argv, int argc, int *flags, char *err);

typedef struct spirt_average_args {
  int dest;      /* argv index */
  int src_first; /* argv index of the first source */
  int nsrc;
  int check_finite;
} spirt_average_args;

/* SPIRT.AVERAGE dest src [src ...] [CHECKFINITE] */
int spirt_parse_average(const spirt_span *argv, int argc, spirt_average_args *out, char *err);

typedef struct spirt_sgd_args {
  int params; /* argv index */
  int grad;   /* argv index */
  int buf;    /* argv index of the momentum buffer key, or 0 */
  spirt_sgd_params hp;
  int check_finite;
} spirt_sgd_args;

/* SPIRT.SGD params grad LR lr [MOMENTUM m buf] [NESTEROV] [WEIGHTDECAY wd] [CHECKFINITE] */
int spirt_parse_sgd(const spirt_span *argv, int argc, spirt_sgd_args *out, char *err);

typedef struct spirt_aggregate_args {
  int dest;
  spirt_agg_rule rule;
  size_t f;
  int src_first;
  int nsrc;
  int check_finite;
} spirt_aggregate_args;

/* SPIRT.AGGREGATE dest MEAN|MEDIAN|TRIMMEDMEAN f|MEAMED f src [src ...] [CHECKFINITE] */
int spirt_parse_aggregate(const spirt_span *argv, int argc, spirt_aggregate_args *out, char *err);

typedef struct spirt_wsum_args {
  int dest;
  int nsrc;
  int src_first; /* sources: argv[src_first .. src_first + nsrc) */
  int w_first;   /* weights: argv[w_first .. w_first + nsrc) */
  int check_finite;
} spirt_wsum_args;

/* SPIRT.WSUM dest n src [src ...] w [w ...] [CHECKFINITE]   (n sources, then n finite weights) */
int spirt_parse_wsum(const spirt_span *argv, int argc, spirt_wsum_args *out, double *weights, char *err);

typedef struct spirt_gram_args {
  int src_first;
  int nsrc;
  int check_finite;
} spirt_gram_args;

/* SPIRT.GRAM src [src ...] [CHECKFINITE]   (at most SPIRT_MAX_GRAM sources) */
#define SPIRT_MAX_GRAM 64
int spirt_parse_gram(const spirt_span *argv, int argc, spirt_gram_args *out, char *err);

/* RDB header check for a stored tensor: encoding version, dims and the payload length. */
#define SPIRT_TENSOR_ENCVER 1
int spirt_check_stored_tensor(int encver, uint64_t ndims, const uint64_t *dims, size_t payload_len, uint64_t *numel,
                              char *err);

#endif
