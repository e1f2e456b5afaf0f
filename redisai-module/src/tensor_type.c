/*
 * tensor_type.c - the tensor data type (RDB, AOF rewrite, memory usage) and the RedisAI subset
 * AI.TENSORSET / AI.TENSORGET.
 */
#include <string.h>

#include "glue.h"

RedisModuleType *SpirtTensorType = NULL;

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "blobs are little-endian float32; port the codec first");

int spirt_spans(RedisModuleString **argv, int argc, spirt_span *out) {
  if (argc > SPIRT_MAX_ARGS) return -1;
  for (int i = 0; i < argc; i++) out[i].ptr = RedisModule_StringPtrLen(argv[i], &out[i].len);
  return 0;
}

spirt_tensor *spirt_tensor_new(const int64_t *dims, int ndims, uint64_t numel, int zero) {
  spirt_tensor *t = RedisModule_Calloc(1, sizeof *t);
  t->ndims = ndims;
  memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndims);
  t->numel = numel;
  t->data = zero ? RedisModule_Calloc((size_t)numel, sizeof(float)) : RedisModule_Alloc((size_t)numel * sizeof(float));
  return t;
}

void spirt_tensor_free(void *value) {
  spirt_tensor *t = value;
  if (t == NULL) return;
  RedisModule_Free(t->data);
  RedisModule_Free(t);
}

/* ---- persistence ------------------------------------------------------------------------- */
/* RDB layout (encoding version SPIRT_TENSOR_ENCVER = 1):
 *   unsigned ndims, unsigned dims[ndims], string buffer of numel*4 bytes (little-endian float32). */

static void tensor_rdb_save(RedisModuleIO *rdb, void *value) {
  spirt_tensor *t = value;
  RedisModule_SaveUnsigned(rdb, (uint64_t)t->ndims);
  for (int i = 0; i < t->ndims; i++) RedisModule_SaveUnsigned(rdb, (uint64_t)t->dims[i]);
  RedisModule_SaveStringBuffer(rdb, (const char *)t->data, (size_t)t->numel * sizeof(float));
}

static void *tensor_rdb_load(RedisModuleIO *rdb, int encver) {
  char err[SPIRT_ERR_LEN];
  uint64_t numel = 0, dims[SPIRT_MAX_DIMS] = {0};
  if (encver != SPIRT_TENSOR_ENCVER) {
    RedisModule_LogIOError(rdb, "warning", "SPIRT: cannot load tensor encoding version %d (this build knows %d)",
                           encver, SPIRT_TENSOR_ENCVER);
    return NULL;
  }
  uint64_t ndims = RedisModule_LoadUnsigned(rdb);
  if (RedisModule_IsIOError(rdb)) return NULL;
  if (ndims < 1 || ndims > SPIRT_MAX_DIMS) {
    RedisModule_LogIOError(rdb, "warning", "SPIRT: stored tensor has %llu dims", (unsigned long long)ndims);
    return NULL;
  }
  for (uint64_t i = 0; i < ndims; i++) {
    dims[i] = RedisModule_LoadUnsigned(rdb);
    if (RedisModule_IsIOError(rdb)) return NULL;
  }
  size_t len = 0;
  char *payload = RedisModule_LoadStringBuffer(rdb, &len);
  if (RedisModule_IsIOError(rdb) || payload == NULL) return NULL;
  if (spirt_check_stored_tensor(encver, ndims, dims, len, &numel, err) != 0) {
    RedisModule_LogIOError(rdb, "warning", "%s", err);
    RedisModule_Free(payload);
    return NULL;
  }
  spirt_tensor *t = RedisModule_Calloc(1, sizeof *t);
  t->ndims = (int)ndims;
  for (uint64_t i = 0; i < ndims; i++) t->dims[i] = (int64_t)dims[i];
  t->numel = numel;
  t->data = (float *)payload; /* allocated by RedisModule_Alloc: adopt it, no copy */
  return t;
}

static void tensor_aof_rewrite(RedisModuleIO *aof, RedisModuleString *key, void *value) {
  spirt_tensor *t = value;
  RedisModuleString *dims[SPIRT_MAX_DIMS];
  for (int i = 0; i < t->ndims; i++) dims[i] = RedisModule_CreateStringFromLongLong(NULL, t->dims[i]);
  RedisModule_EmitAOF(aof, "AI.TENSORSET", "scvcb", key, "FLOAT", dims, (size_t)t->ndims, "BLOB", (const char *)t->data,
                      (size_t)t->numel * sizeof(float));
  for (int i = 0; i < t->ndims; i++) RedisModule_FreeString(NULL, dims[i]);
}

static size_t tensor_mem_usage(const void *value) {
  const spirt_tensor *t = value;
  return sizeof *t + (size_t)t->numel * sizeof(float);
}

int spirt_register_tensor_type(RedisModuleCtx *ctx) {
  RedisModuleTypeMethods tm = {
      .version = SPIRT_TYPE_METHOD_VERSION,
      .rdb_load = tensor_rdb_load,
      .rdb_save = tensor_rdb_save,
      .aof_rewrite = tensor_aof_rewrite,
      .mem_usage = tensor_mem_usage,
      .digest = NULL,
      .free = spirt_tensor_free,
  };
  SpirtTensorType = RedisModule_CreateDataType(ctx, SPIRT_TYPE_NAME, SPIRT_TENSOR_ENCVER, &tm);
  return SpirtTensorType == NULL ? REDISMODULE_ERR : REDISMODULE_OK;
}

/* ---- commands ---------------------------------------------------------------------------- */

/* AI.TENSORSET key FLOAT dim [dim ...] [BLOB b | VALUES v [v ...]]
 * Reply: +OK. Without BLOB/VALUES the tensor is zero-filled. */
int spirt_cmd_tensorset(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  static spirt_span spans[SPIRT_MAX_ARGS];
  char err[SPIRT_ERR_LEN];
  spirt_tensorset_args a;
  if (argc < 4) return RedisModule_WrongArity(ctx);
  spirt_span *sp = spans;
  spirt_span *heap_spans = NULL;
  if (argc > SPIRT_MAX_ARGS) { /* VALUES of a large tensor */
    heap_spans = RedisModule_Alloc(sizeof(spirt_span) * (size_t)argc);
    sp = heap_spans;
  }
  for (int i = 0; i < argc; i++) sp[i].ptr = RedisModule_StringPtrLen(argv[i], &sp[i].len);
  int rc = spirt_parse_tensorset(sp, argc, &a, err);
  if (rc != 0) {
    RedisModule_Free(heap_spans);
    return RedisModule_ReplyWithError(ctx, err);
  }
  RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
  int type = RedisModule_KeyType(key);
  if (type != REDISMODULE_KEYTYPE_EMPTY && RedisModule_ModuleTypeGetType(key) != SpirtTensorType &&
      type != REDISMODULE_KEYTYPE_STRING) {
    /* Like SET, TENSORSET replaces a string; other types are an error. */
    RedisModule_CloseKey(key);
    RedisModule_Free(heap_spans);
    return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
  }
  spirt_tensor *t = spirt_tensor_new(a.dims, a.ndims, a.numel, a.mode == SPIRT_DATA_NONE);
  if (a.mode == SPIRT_DATA_BLOB) {
    memcpy(t->data, a.blob.ptr, a.blob.len);
  } else if (a.mode == SPIRT_DATA_VALUES && spirt_parse_values(sp, &a, t->data, err) != 0) {
    spirt_tensor_free(t);
    RedisModule_CloseKey(key);
    RedisModule_Free(heap_spans);
    return RedisModule_ReplyWithError(ctx, err);
  }
  RedisModule_Free(heap_spans);
  /* Everything is validated: only now is the key changed. */
  RedisModule_ModuleTypeSetValue(key, SpirtTensorType, t);
  RedisModule_CloseKey(key);
  RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_MODULE, "ai.tensorset", argv[1]);
  RedisModule_ReplicateVerbatim(ctx);
  return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static void reply_values(RedisModuleCtx *ctx, const spirt_tensor *t) {
  RedisModule_ReplyWithArray(ctx, (long)t->numel);
  for (uint64_t i = 0; i < t->numel; i++) RedisModule_ReplyWithDouble(ctx, (double)t->data[i]);
}

/* AI.TENSORGET key [META] [BLOB | VALUES]
 * Reply (RedisAI shape): META with a format -> [dtype, FLOAT, shape, [dims], blob|values, data];
 * META alone -> [dtype, FLOAT, shape, [dims]]; BLOB alone -> bulk string; VALUES alone -> array.
 * No option = META VALUES. */
int spirt_cmd_tensorget(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  spirt_span sp[4];
  char err[SPIRT_ERR_LEN];
  int flags;
  if (argc < 2 || argc > 4) return RedisModule_WrongArity(ctx);
  spirt_spans(argv, argc, sp);
  if (spirt_parse_tensorget(sp, argc, &flags, err) != 0) return RedisModule_ReplyWithError(ctx, err);
  RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ);
  int type = RedisModule_KeyType(key);
  if (type == REDISMODULE_KEYTYPE_EMPTY) {
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithError(ctx, "ERR SPIRT: tensor key is empty");
  }
  if (RedisModule_ModuleTypeGetType(key) != SpirtTensorType) {
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
  }
  const spirt_tensor *t = RedisModule_ModuleTypeGetValue(key);
  if (flags & SPIRT_GET_META) {
    RedisModule_ReplyWithArray(ctx, (flags & (SPIRT_GET_BLOB | SPIRT_GET_VALUES)) ? 6 : 4);
    RedisModule_ReplyWithStringBuffer(ctx, "dtype", 5);
    RedisModule_ReplyWithStringBuffer(ctx, "FLOAT", 5);
    RedisModule_ReplyWithStringBuffer(ctx, "shape", 5);
    RedisModule_ReplyWithArray(ctx, t->ndims);
    for (int i = 0; i < t->ndims; i++) RedisModule_ReplyWithLongLong(ctx, t->dims[i]);
  }
  if (flags & SPIRT_GET_BLOB) {
    if (flags & SPIRT_GET_META) RedisModule_ReplyWithStringBuffer(ctx, "blob", 4);
    RedisModule_ReplyWithStringBuffer(ctx, (const char *)t->data, (size_t)t->numel * sizeof(float));
  } else if (flags & SPIRT_GET_VALUES) {
    if (flags & SPIRT_GET_META) RedisModule_ReplyWithStringBuffer(ctx, "values", 6);
    reply_values(ctx, t);
  }
  RedisModule_CloseKey(key);
  return REDISMODULE_OK;
}
