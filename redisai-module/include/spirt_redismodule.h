/*
 * spirt_redismodule.h - the subset of the Redis module API that the SPIRT module uses.
 *
 * Written for this project (not a copy of upstream redismodule.h). Redis resolves every
 * function below at load time through RedisModule_GetApi, so only the names, signatures,
 * constants and the layout of RedisModuleTypeMethods (version 1 fields) and RedisModuleEvent
 * must match the server. Values checked against Redis 7.0 (the Debian 12 package, 7.0.15).
 */
#ifndef SPIRT_REDISMODULE_H
#define SPIRT_REDISMODULE_H

#include <stddef.h>
#include <stdint.h>

#define REDISMODULE_OK 0
#define REDISMODULE_ERR 1
#define REDISMODULE_APIVER_1 1

#define REDISMODULE_READ (1 << 0)
#define REDISMODULE_WRITE (1 << 1)

#define REDISMODULE_KEYTYPE_EMPTY 0
#define REDISMODULE_KEYTYPE_STRING 1
#define REDISMODULE_KEYTYPE_MODULE 6

#define REDISMODULE_ERRORMSG_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"

/* RedisModule_GetContextFlags() bits. */
#define REDISMODULE_CTX_FLAGS_LUA (1 << 0)
#define REDISMODULE_CTX_FLAGS_MULTI (1 << 1)
#define REDISMODULE_CTX_FLAGS_REPLICATED (1 << 12)
#define REDISMODULE_CTX_FLAGS_LOADING (1 << 13)
#define REDISMODULE_CTX_FLAGS_DENY_BLOCKING (1 << 21)

/* Keyspace notification classes. */
#define REDISMODULE_NOTIFY_GENERIC (1 << 2)
#define REDISMODULE_NOTIFY_STRING (1 << 3)
#define REDISMODULE_NOTIFY_LIST (1 << 4)
#define REDISMODULE_NOTIFY_SET (1 << 5)
#define REDISMODULE_NOTIFY_HASH (1 << 6)
#define REDISMODULE_NOTIFY_ZSET (1 << 7)
#define REDISMODULE_NOTIFY_EXPIRED (1 << 8)
#define REDISMODULE_NOTIFY_EVICTED (1 << 9)
#define REDISMODULE_NOTIFY_STREAM (1 << 10)
#define REDISMODULE_NOTIFY_MODULE (1 << 13)
#define REDISMODULE_NOTIFY_ALL                                                                                   \
  (REDISMODULE_NOTIFY_GENERIC | REDISMODULE_NOTIFY_STRING | REDISMODULE_NOTIFY_LIST | REDISMODULE_NOTIFY_SET |   \
   REDISMODULE_NOTIFY_HASH | REDISMODULE_NOTIFY_ZSET | REDISMODULE_NOTIFY_EXPIRED | REDISMODULE_NOTIFY_EVICTED | \
   REDISMODULE_NOTIFY_STREAM | REDISMODULE_NOTIFY_MODULE)

#define REDISMODULE_OPTIONS_HANDLE_IO_ERRORS (1 << 0)

#define REDISMODULE_EVENTLOOP_READABLE 1

/* Server events (id, data version). */
#define REDISMODULE_EVENT_FLUSHDB 2
#define REDISMODULE_EVENT_SWAPDB 11
#define REDISMODULE_EVENT_EVENTLOOP 15
#define REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP 0
#define REDISMODULE_SUBEVENT_FLUSHDB_START 0

typedef struct RedisModuleEvent {
  uint64_t id;
  uint64_t dataver;
} RedisModuleEvent;

typedef struct RedisModuleFlushInfoV1 {
  uint64_t version;
  int32_t sync;
  int32_t dbnum; /* -1 for FLUSHALL */
} RedisModuleFlushInfoV1;

typedef struct RedisModuleSwapDbInfoV1 {
  uint64_t version;
  int32_t dbnum_first;
  int32_t dbnum_second;
} RedisModuleSwapDbInfoV1;

typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleKey RedisModuleKey;
typedef struct RedisModuleString RedisModuleString;
typedef struct RedisModuleIO RedisModuleIO;
typedef struct RedisModuleType RedisModuleType;
typedef struct RedisModuleBlockedClient RedisModuleBlockedClient;
typedef struct RedisModuleDigest RedisModuleDigest;
typedef struct RedisModuleInfoCtx RedisModuleInfoCtx;

typedef int (*RedisModuleCmdFunc)(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
typedef void *(*RedisModuleTypeLoadFunc)(RedisModuleIO *rdb, int encver);
typedef void (*RedisModuleTypeSaveFunc)(RedisModuleIO *rdb, void *value);
typedef void (*RedisModuleTypeRewriteFunc)(RedisModuleIO *aof, RedisModuleString *key, void *value);
typedef size_t (*RedisModuleTypeMemUsageFunc)(const void *value);
typedef void (*RedisModuleTypeDigestFunc)(RedisModuleDigest *digest, void *value);
typedef void (*RedisModuleTypeFreeFunc)(void *value);
typedef int (*RedisModuleNotificationFunc)(RedisModuleCtx *ctx, int type, const char *event, RedisModuleString *key);
typedef void (*RedisModuleEventCallback)(RedisModuleCtx *ctx, RedisModuleEvent eid, uint64_t subevent, void *data);
typedef void (*RedisModuleEventLoopFunc)(int fd, void *user_data, int mask);
typedef void (*RedisModuleInfoFunc)(RedisModuleInfoCtx *ctx, int for_crash_report);

/* Only the version-1 fields: Redis reads later fields only when version says they exist. */
typedef struct RedisModuleTypeMethods {
  uint64_t version;
  RedisModuleTypeLoadFunc rdb_load;
  RedisModuleTypeSaveFunc rdb_save;
  RedisModuleTypeRewriteFunc aof_rewrite;
  RedisModuleTypeMemUsageFunc mem_usage;
  RedisModuleTypeDigestFunc digest;
  RedisModuleTypeFreeFunc free;
} RedisModuleTypeMethods;
#define SPIRT_TYPE_METHOD_VERSION 1

/* Function pointers, filled by spirt_module_init_api(). X(return type, name, parameters). */
#define SPIRT_REDISMODULE_API(X)                                                                               \
  X(int, CreateCommand, (RedisModuleCtx *, const char *, RedisModuleCmdFunc, const char *, int, int, int))     \
  X(void, SetModuleAttribs, (RedisModuleCtx *, const char *, int, int))                                        \
  X(int, IsModuleNameBusy, (const char *))                                                                     \
  X(void, SetModuleOptions, (RedisModuleCtx *, int))                                                           \
  X(int, WrongArity, (RedisModuleCtx *))                                                                       \
  X(int, ReplyWithError, (RedisModuleCtx *, const char *))                                                     \
  X(int, ReplyWithSimpleString, (RedisModuleCtx *, const char *))                                              \
  X(int, ReplyWithArray, (RedisModuleCtx *, long))                                                             \
  X(int, ReplyWithLongLong, (RedisModuleCtx *, long long))                                                     \
  X(int, ReplyWithStringBuffer, (RedisModuleCtx *, const char *, size_t))                                      \
  X(int, ReplyWithDouble, (RedisModuleCtx *, double))                                                          \
  X(const char *, StringPtrLen, (const RedisModuleString *, size_t *))                                         \
  X(RedisModuleString *, CreateString, (RedisModuleCtx *, const char *, size_t))                               \
  X(RedisModuleString *, CreateStringFromLongLong, (RedisModuleCtx *, long long))                              \
  X(void, FreeString, (RedisModuleCtx *, RedisModuleString *))                                                 \
  X(void, RetainString, (RedisModuleCtx *, RedisModuleString *))                                               \
  X(void *, OpenKey, (RedisModuleCtx *, RedisModuleString *, int))                                             \
  X(void, CloseKey, (RedisModuleKey *))                                                                        \
  X(int, KeyType, (RedisModuleKey *))                                                                          \
  X(int, DeleteKey, (RedisModuleKey *))                                                                        \
  X(char *, StringDMA, (RedisModuleKey *, size_t *, int))                                                      \
  X(int, StringTruncate, (RedisModuleKey *, size_t))                                                           \
  X(RedisModuleType *, CreateDataType, (RedisModuleCtx *, const char *, int, void *))                          \
  X(int, ModuleTypeSetValue, (RedisModuleKey *, RedisModuleType *, void *))                                    \
  X(RedisModuleType *, ModuleTypeGetType, (RedisModuleKey *))                                                  \
  X(void *, ModuleTypeGetValue, (RedisModuleKey *))                                                            \
  X(void, SaveUnsigned, (RedisModuleIO *, uint64_t))                                                           \
  X(uint64_t, LoadUnsigned, (RedisModuleIO *))                                                                 \
  X(void, SaveStringBuffer, (RedisModuleIO *, const char *, size_t))                                           \
  X(char *, LoadStringBuffer, (RedisModuleIO *, size_t *))                                                     \
  X(int, IsIOError, (RedisModuleIO *))                                                                         \
  X(void, EmitAOF, (RedisModuleIO *, const char *, const char *, ...))                                         \
  X(void, LogIOError, (RedisModuleIO *, const char *, const char *, ...))                                      \
  X(void, Log, (RedisModuleCtx *, const char *, const char *, ...))                                            \
  X(void *, Alloc, (size_t))                                                                                   \
  X(void *, Calloc, (size_t, size_t))                                                                          \
  X(void, Free, (void *))                                                                                      \
  X(int, Replicate, (RedisModuleCtx *, const char *, const char *, ...))                                       \
  X(int, ReplicateVerbatim, (RedisModuleCtx *))                                                                \
  X(int, GetSelectedDb, (RedisModuleCtx *))                                                                    \
  X(int, SelectDb, (RedisModuleCtx *, int))                                                                    \
  X(int, GetContextFlags, (RedisModuleCtx *))                                                                  \
  X(RedisModuleBlockedClient *, BlockClient,                                                                   \
    (RedisModuleCtx *, RedisModuleCmdFunc, RedisModuleCmdFunc, void (*)(RedisModuleCtx *, void *), long long)) \
  X(int, UnblockClient, (RedisModuleBlockedClient *, void *))                                                  \
  X(void *, GetBlockedClientPrivateData, (RedisModuleCtx *))                                                   \
  X(int, BlockedClientMeasureTimeStart, (RedisModuleBlockedClient *))                                          \
  X(int, BlockedClientMeasureTimeEnd, (RedisModuleBlockedClient *))                                            \
  X(int, EventLoopAdd, (int, int, RedisModuleEventLoopFunc, void *))                                           \
  X(int, EventLoopDel, (int, int))                                                                             \
  X(int, SubscribeToKeyspaceEvents, (RedisModuleCtx *, int, RedisModuleNotificationFunc))                      \
  X(int, SubscribeToServerEvent, (RedisModuleCtx *, RedisModuleEvent, RedisModuleEventCallback))               \
  X(int, NotifyKeyspaceEvent, (RedisModuleCtx *, int, const char *, RedisModuleString *))                      \
  X(int, IsKeysPositionRequest, (RedisModuleCtx *))                                                            \
  X(int, RegisterInfoFunc, (RedisModuleCtx *, RedisModuleInfoFunc))                                            \
  X(int, InfoAddSection, (RedisModuleInfoCtx *, const char *))                                                 \
  X(int, InfoAddFieldLongLong, (RedisModuleInfoCtx *, const char *, long long))                                \
  X(int, InfoAddFieldDouble, (RedisModuleInfoCtx *, const char *, double))                                     \
  X(void, KeyAtPos, (RedisModuleCtx *, int))

#define SPIRT_DECLARE_API(ret, name, params) extern ret(*RedisModule_##name) params;
SPIRT_REDISMODULE_API(SPIRT_DECLARE_API)
#undef SPIRT_DECLARE_API

/* Resolves every function above through the GetApi pointer stored at the start of ctx, then
 * registers the module name. Returns REDISMODULE_ERR if the server lacks one of them (too old). */
int spirt_module_init_api(RedisModuleCtx *ctx, const char *name, int ver);

#endif
