/*
 * module.c - RedisModule_OnLoad: registers the tensor type and the commands.
 *
 * Load arguments (optional): SLICE_US <microseconds>  time budget of one slice of a large op
 * (default 5000, range 100..1000000); FORK_CHILD_IDLE  the server's forked children (the append-only
 * file's rewrite, BGSAVE) run at niceness 19 under SCHED_IDLE (Linux), so that they take the CPU only when
 * no other thread wants it.
 */
#define _GNU_SOURCE /* SCHED_IDLE */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>

#include "glue.h"

/* In a forked child (pthread_atfork's child hook, run before fork() returns there): lower its own priority. The
 * server's main thread keeps its own; a module that registers a data type cannot be unloaded, so the hook never
 * outlives this code. */
static void fork_child_idle(void) {
  struct sched_param none;
  memset(&none, 0, sizeof none);
  (void)setpriority(PRIO_PROCESS, 0, 19);
  (void)sched_setscheduler(0, SCHED_IDLE, &none);
}

__attribute__((visibility("default"))) int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  if (spirt_module_init_api(ctx, SPIRT_MODULE_NAME, SPIRT_MODULE_VERSION) != REDISMODULE_OK) return REDISMODULE_ERR;
  long long slice_us = 5000;
  int child_idle = 0;
  for (int i = 0; i < argc; i++) {
    spirt_span s;
    s.ptr = RedisModule_StringPtrLen(argv[i], &s.len);
    int64_t v;
    if (spirt_span_eq(s, "SLICE_US") && i + 1 < argc) {
      spirt_span vs;
      vs.ptr = RedisModule_StringPtrLen(argv[i + 1], &vs.len);
      if (spirt_parse_i64(vs, &v) != 0 || v < 100 || v > 1000000) {
        RedisModule_Log(ctx, "warning", "SPIRT: SLICE_US must be an integer in 100..1000000");
        return REDISMODULE_ERR;
      }
      slice_us = v;
      i++;
    } else if (spirt_span_eq(s, "FORK_CHILD_IDLE")) {
      child_idle = 1;
    } else {
      RedisModule_Log(ctx, "warning", "SPIRT: unknown module argument (expected SLICE_US <us> or FORK_CHILD_IDLE)");
      return REDISMODULE_ERR;
    }
  }
  RedisModule_SetModuleOptions(ctx, REDISMODULE_OPTIONS_HANDLE_IO_ERRORS);
  if (spirt_register_tensor_type(ctx) != REDISMODULE_OK) return REDISMODULE_ERR;
  struct {
    const char *name;
    RedisModuleCmdFunc fn;
    const char *flags;
  } cmds[] = {
      {"AI.TENSORSET", spirt_cmd_tensorset, "write deny-oom"},
      {"AI.TENSORGET", spirt_cmd_tensorget, "readonly"},
      {"SPIRT.AVERAGE", spirt_cmd_average, "write deny-oom getkeys-api"},
      {"SPIRT.SGD", spirt_cmd_sgd, "write deny-oom getkeys-api"},
      {"SPIRT.AGGREGATE", spirt_cmd_aggregate, "write deny-oom getkeys-api"},
      {"SPIRT.WSUM", spirt_cmd_wsum, "write deny-oom getkeys-api"},
      {"SPIRT.GRAM", spirt_cmd_gram, "readonly getkeys-api"},
      {"SPIRT.SHA256", spirt_cmd_sha256, "readonly getkeys-api"},
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (RedisModule_CreateCommand(ctx, cmds[i].name, cmds[i].fn, cmds[i].flags, 1, 1, 1) != REDISMODULE_OK)
      return REDISMODULE_ERR;
  if (spirt_ops_init(ctx, slice_us) != REDISMODULE_OK) return REDISMODULE_ERR;
  if (child_idle && pthread_atfork(NULL, NULL, fork_child_idle) != 0) {
    RedisModule_Log(ctx, "warning", "SPIRT: FORK_CHILD_IDLE: pthread_atfork failed");
    return REDISMODULE_ERR;
  }
  RedisModule_Log(ctx, "notice", "SPIRT module loaded (slice budget %lld us%s)", slice_us,
                  child_idle ? ", forked children idle" : "");
  return REDISMODULE_OK;
}
