/* glue.h - declarations shared by the Redis-facing files (tensor_type.c, ops.c, module.c). */
#ifndef SPIRT_GLUE_H
#define SPIRT_GLUE_H

#include "parse.h"
#include "spirt_redismodule.h"
#include "tensor_core.h"
#include "sha256.h"

#define SPIRT_MODULE_NAME "spirt"
#define SPIRT_MODULE_VERSION 1
#define SPIRT_TYPE_NAME "spirt_f32" /* exactly 9 characters, as Redis requires */

/* The value stored under a key of the module type. data is numel floats from RedisModule_Alloc. */
typedef struct spirt_tensor {
  int ndims;
  int64_t dims[SPIRT_MAX_DIMS];
  uint64_t numel;
  float *data;
} spirt_tensor;

extern RedisModuleType *SpirtTensorType;

/* Converts argv to spans (at most SPIRT_MAX_ARGS; returns -1 if more). */
#define SPIRT_MAX_ARGS (SPIRT_MAX_SOURCES + 16)
int spirt_spans(RedisModuleString **argv, int argc, spirt_span *out);

spirt_tensor *spirt_tensor_new(const int64_t *dims, int ndims, uint64_t numel, int zero);
void spirt_tensor_free(void *value);

int spirt_register_tensor_type(RedisModuleCtx *ctx);
int spirt_cmd_tensorset(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int spirt_cmd_tensorget(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

int spirt_ops_init(RedisModuleCtx *ctx, long long slice_us);
int spirt_cmd_average(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int spirt_cmd_sgd(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int spirt_cmd_aggregate(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int spirt_cmd_wsum(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int spirt_cmd_gram(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int spirt_cmd_sha256(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
