/* api.c - resolves the Redis module API function pointers declared in spirt_redismodule.h. */
#include "spirt_redismodule.h"

#define SPIRT_DEFINE_API(ret, name, params) ret(*RedisModule_##name) params = 0;
SPIRT_REDISMODULE_API(SPIRT_DEFINE_API)
#undef SPIRT_DEFINE_API

int spirt_module_init_api(RedisModuleCtx *ctx, const char *name, int ver) {
  /* Redis stores its GetApi function as the first field of the load-time context. */
  int (*get_api)(const char *, void *) = (int (*)(const char *, void *))(unsigned long)((void **)ctx)[0];
  int missing = 0;
#define SPIRT_RESOLVE_API(ret, fname, params) \
  if (get_api("RedisModule_" #fname, (void *)&RedisModule_##fname) != REDISMODULE_OK) missing = 1;
  SPIRT_REDISMODULE_API(SPIRT_RESOLVE_API)
#undef SPIRT_RESOLVE_API
  if (missing) return REDISMODULE_ERR;
  if (RedisModule_IsModuleNameBusy(name)) return REDISMODULE_ERR;
  RedisModule_SetModuleAttribs(ctx, name, ver, REDISMODULE_APIVER_1);
  return REDISMODULE_OK;
}
