/*
 * ops.c - SPIRT.AVERAGE, SPIRT.SGD, SPIRT.AGGREGATE: in-database training ops and the engine
 * that runs a large op in time slices on the main thread.
 *
 * Why slices on the main thread (and not a worker thread): the operands are plain Redis strings
 * that any client may overwrite or delete at any moment, so a thread may only touch them while it
 * holds the module GIL. Holding it for the whole op freezes the server; taking it in pieces
 * starves the main thread (the GIL mutex is not fair: the worker re-locks before the woken main
 * thread runs) or needs a copy of every input, which doubles the memory traffic of a
 * bandwidth-bound kernel. Instead, the op runs directly on the live buffers (zero copies) for at
 * most slice_us per event-loop iteration; between slices the server serves everyone else.
 *
 * The calling client is blocked (RedisModule_BlockClient) until the op finishes. Ops run one at
 * a time in arrival order. Each slice runs from the EventLoop BEFORE_SLEEP server event; an
 * eventfd registered in the event loop stays readable while an op is pending, so the loop never
 * sleeps between slices. Ops expected to take under half a slice run inline instead.
 *
 * Consistency: every slice re-opens the keys and re-checks their type and length. A keyspace
 * notification (any write, delete, expire, rename...) on one of the op's keys, FLUSHDB/FLUSHALL
 * or SWAPDB while it runs aborts the op with an error. On success the command is replicated (and
 * written to the AOF) verbatim when it finishes; the replica recomputes the same bits.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "glue.h"

typedef enum { OP_AVERAGE = 0, OP_SGD = 1, OP_AGGREGATE = 2, OP_WSUM = 3, OP_GRAM = 4, OP_SHA256 = 5 } op_kind;
static const char *const op_names[] = {"SPIRT.AVERAGE", "SPIRT.SGD",  "SPIRT.AGGREGATE",
                                        "SPIRT.WSUM",    "SPIRT.GRAM", "SPIRT.SHA256"};
static const char *const op_events[] = {"spirt.average", "spirt.sgd",  "spirt.aggregate",
                                         "spirt.wsum",    "spirt.gram", "spirt.sha256"};

typedef enum { PHASE_CHECK = 0, PHASE_COMPUTE = 1 } op_phase;

/* Read-only ops: no destination, nothing replicated or notified. */
#define OP_READONLY(op) ((op)->kind == OP_GRAM || (op)->kind == OP_SHA256)

/* A float32 array behind a key: a plain string (raw little-endian floats) or a module tensor. */
typedef struct view {
  RedisModuleKey *key;
  spirt_f32 *data;
  size_t n;
  const spirt_tensor *tensor; /* non-NULL for the module type */
} view;

typedef struct spirt_op {
  op_kind kind;
  int db;
  RedisModuleString **argv; /* retained, for replication and key names */
  int argc;
  /* Roles, as argv indexes. out_key = dest (average/aggregate/wsum) or params (sgd); -1 for gram. */
  int out_key;
  int in_first, nin; /* average/aggregate: the sources */
  spirt_sgd_args sgd;
  spirt_aggregate_args agg;
  int check_finite;
  /* State. */
  size_t n; /* floats per operand */
  int buf_exists;
  int first_src_is_tensor;
  int64_t first_src_dims[SPIRT_MAX_DIMS];
  int first_src_ndims;
  op_phase phase;
  int check_idx; /* PHASE_CHECK: which input is being scanned */
  size_t pos;
  int writing;     /* the output has been (re)created: an abort must clean up */
  int invalidated; /* set by the keyspace/server event callbacks */
  int failed;
  char err[SPIRT_ERR_LEN];
  RedisModuleBlockedClient *bc;
  float *scratch;
  double *weights; /* wsum: one per source */
  double *gram;    /* gram: the nin(nin+1)/2 accumulators, the reply */
  spirt_sha256 *sha; /* sha256: the running hash of the source's bytes */
  struct spirt_op *next;
} spirt_op;

static int engine_fd = -1;
static int engine_armed = 0;
static spirt_op *running = NULL;
static spirt_op *queue_head = NULL, *queue_tail = NULL;
static long long slice_budget_us = 5000;

/* Counters for INFO spirt. */
static struct {
  long long ops_inline, ops_sliced, ops_failed, slices, last_op_us;
  uint64_t last_op_started_us;
} stats;

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Printable, truncated key name for error messages. */
static void key_label(RedisModuleString *name, char *out, size_t outlen) {
  size_t len;
  const char *p = RedisModule_StringPtrLen(name, &len);
  size_t j = 0;
  for (size_t i = 0; i < len && j + 4 < outlen; i++) out[j++] = (p[i] >= 32 && p[i] < 127 && p[i] != '\'') ? p[i] : '?';
  if (len > 0 && j + 4 >= outlen) {
    out[j++] = '.';
    out[j++] = '.';
  }
  out[j] = '\0';
}

static int same_key(RedisModuleString *a, RedisModuleString *b) {
  size_t la, lb;
  const char *pa = RedisModule_StringPtrLen(a, &la), *pb = RedisModule_StringPtrLen(b, &lb);
  return la == lb && memcmp(pa, pb, la) == 0;
}

static void set_err(char *err, const char *fmt, RedisModuleString *name, const char *extra) {
  char label[72];
  key_label(name, label, sizeof label);
  snprintf(err, SPIRT_ERR_LEN, fmt, label, extra ? extra : "");
}

/* Opens name as a float32 view. An empty key is an error unless allow_empty (then v->key is
 * open, v->data is NULL and 1 is returned). Returns 0 on success, -1 with err set. */
static int open_view(RedisModuleCtx *ctx, RedisModuleString *name, int write, int allow_empty, view *v, char *err) {
  memset(v, 0, sizeof *v);
  v->key = RedisModule_OpenKey(ctx, name, REDISMODULE_READ | (write ? REDISMODULE_WRITE : 0));
  int type = RedisModule_KeyType(v->key);
  if (type == REDISMODULE_KEYTYPE_EMPTY) {
    if (allow_empty) return 1;
    set_err(err, "ERR SPIRT: key '%s' does not exist%s", name, NULL);
    goto fail;
  }
  if (type == REDISMODULE_KEYTYPE_STRING) {
    size_t len = 0;
    char *p = RedisModule_StringDMA(v->key, &len, write ? REDISMODULE_WRITE : REDISMODULE_READ);
    if (p == NULL) {
      set_err(err, "ERR SPIRT: cannot access key '%s'%s", name, NULL);
      goto fail;
    }
    if (len == 0) {
      set_err(err, "ERR SPIRT: key '%s' is an empty string (empty tensors are rejected)%s", name, NULL);
      goto fail;
    }
    if (len % 4 != 0) {
      char extra[64];
      snprintf(extra, sizeof extra, "%zu", len);
      set_err(err, "ERR SPIRT: key '%s' holds %s bytes, not a whole number of float32 values", name, extra);
      goto fail;
    }
    v->data = (spirt_f32 *)p;
    v->n = len / 4;
    return 0;
  }
  if (RedisModule_ModuleTypeGetType(v->key) == SpirtTensorType) {
    spirt_tensor *t = RedisModule_ModuleTypeGetValue(v->key);
    v->tensor = t;
    v->data = t->data;
    v->n = (size_t)t->numel;
    return 0;
  }
  snprintf(err, SPIRT_ERR_LEN, "%s", REDISMODULE_ERRORMSG_WRONGTYPE);
fail:
  RedisModule_CloseKey(v->key);
  v->key = NULL;
  return -1;
}

static void close_view(view *v) {
  if (v->key) RedisModule_CloseKey(v->key);
  v->key = NULL;
}

static int length_mismatch(char *err, RedisModuleString *name, size_t got, size_t want) {
  char extra[96];
  snprintf(extra, sizeof extra, "%zu floats, expected %zu", got, want);
  set_err(err, "ERR SPIRT: shape mismatch: key '%s' has %s", name, extra);
  return -1;
}

/* ---- validation (no mutation) -------------------------------------------------------------- */

/* Checks types and lengths of every operand of op and sets op->n. Nothing is changed. */
static int validate_op(RedisModuleCtx *ctx, spirt_op *op) {
  view v;
  int rc;
  char *err = op->err;
  if (op->kind == OP_SGD) {
    RedisModuleString *p = op->argv[op->sgd.params], *g = op->argv[op->sgd.grad];
    RedisModuleString *b = op->sgd.buf ? op->argv[op->sgd.buf] : NULL;
    if (same_key(p, g) || (b && (same_key(b, p) || same_key(b, g)))) {
      snprintf(err, SPIRT_ERR_LEN, "ERR SPIRT: params, grad and the momentum buffer must be different keys");
      return -1;
    }
    if (open_view(ctx, p, 0, 0, &v, err) < 0) return -1;
    op->n = v.n;
    close_view(&v);
    if (open_view(ctx, g, 0, 0, &v, err) < 0) return -1;
    size_t gn = v.n;
    close_view(&v);
    if (gn != op->n) return length_mismatch(err, g, gn, op->n);
    op->buf_exists = 0;
    if (b) {
      rc = open_view(ctx, b, 0, 1, &v, err);
      if (rc < 0) return -1;
      if (rc == 0) {
        op->buf_exists = 1;
        if (v.n != op->n) {
          close_view(&v);
          return length_mismatch(err, b, v.n, op->n);
        }
      }
      close_view(&v);
    }
    return 0;
  }
  /* average / aggregate */
  for (int i = 0; i < op->nin; i++) {
    RedisModuleString *name = op->argv[op->in_first + i];
    if (open_view(ctx, name, 0, 0, &v, err) < 0) return -1;
    if (i == 0) {
      op->n = v.n;
      op->first_src_is_tensor = v.tensor != NULL;
      if (v.tensor) {
        op->first_src_ndims = v.tensor->ndims;
        memcpy(op->first_src_dims, v.tensor->dims, sizeof op->first_src_dims);
      }
    } else if (v.n != op->n) {
      size_t got = v.n;
      close_view(&v);
      return length_mismatch(err, name, got, op->n);
    }
    close_view(&v);
  }
  if (OP_READONLY(op)) return 0; /* no destination */
  /* The destination may be missing, a string or a tensor (it is replaced); nothing else. */
  RedisModuleKey *k = RedisModule_OpenKey(ctx, op->argv[op->out_key], REDISMODULE_READ);
  int type = RedisModule_KeyType(k);
  int ok = type == REDISMODULE_KEYTYPE_EMPTY || type == REDISMODULE_KEYTYPE_STRING ||
           RedisModule_ModuleTypeGetType(k) == SpirtTensorType;
  RedisModule_CloseKey(k);
  if (!ok) {
    snprintf(err, SPIRT_ERR_LEN, "%s", REDISMODULE_ERRORMSG_WRONGTYPE);
    return -1;
  }
  return 0;
}

/* ---- execution ------------------------------------------------------------------------------ */

/* Makes the destination of average/aggregate hold n floats (first mutation of the op). */
static void prepare_dest(RedisModuleCtx *ctx, spirt_op *op) {
  RedisModuleKey *k = RedisModule_OpenKey(ctx, op->argv[op->out_key], REDISMODULE_READ | REDISMODULE_WRITE);
  int type = RedisModule_KeyType(k);
  if (type == REDISMODULE_KEYTYPE_EMPTY && op->first_src_is_tensor) {
    spirt_tensor *t = spirt_tensor_new(op->first_src_dims, op->first_src_ndims, op->n, 1);
    RedisModule_ModuleTypeSetValue(k, SpirtTensorType, t);
  } else if (type == REDISMODULE_KEYTYPE_EMPTY || type == REDISMODULE_KEYTYPE_STRING) {
    RedisModule_StringTruncate(k, op->n * 4);
  } else {
    spirt_tensor *cur = RedisModule_ModuleTypeGetValue(k);
    if (cur->numel != op->n) {
      int64_t dims[1] = {(int64_t)op->n};
      RedisModule_ModuleTypeSetValue(k, SpirtTensorType, spirt_tensor_new(dims, 1, op->n, 1));
    }
  }
  RedisModule_CloseKey(k);
  op->writing = 1;
}

/* Opens every operand for a slice. views[0] is the output (params for SGD), then inputs. */
static int open_all(RedisModuleCtx *ctx, spirt_op *op, view *views, int *nviews) {
  int nv = 0, rc = 0;
  char *err = op->err;
  if (op->kind == OP_SGD) {
    int write = op->phase == PHASE_COMPUTE;
    int idx[3] = {op->sgd.params, op->sgd.grad, op->sgd.buf};
    int count = op->sgd.buf ? 3 : 2;
    for (int i = 0; i < count; i++) {
      int is_buf = i == 2;
      rc = open_view(ctx, op->argv[idx[i]], write && i != 1, is_buf && !op->buf_exists, &views[nv], err);
      if (rc < 0) goto fail;
      nv++;
      if (is_buf && !op->buf_exists) {
        if (!write) break; /* nothing to scan yet */
        /* First step: create the buffer as a string of n floats (written by the kernel). */
        if (rc == 1) {
          RedisModule_StringTruncate(views[i].key, op->n * 4);
          size_t len;
          views[i].data = (spirt_f32 *)RedisModule_StringDMA(views[i].key, &len, REDISMODULE_WRITE);
          views[i].n = len / 4;
        }
      }
      if (views[i].n != op->n) {
        length_mismatch(err, op->argv[idx[i]], views[i].n, op->n);
        goto fail;
      }
    }
  } else {
    if (op->phase == PHASE_COMPUTE && !OP_READONLY(op)) {
      rc = open_view(ctx, op->argv[op->out_key], 1, 0, &views[0], err);
      if (rc < 0) goto fail;
      nv++;
      if (views[0].n != op->n) {
        length_mismatch(err, op->argv[op->out_key], views[0].n, op->n);
        goto fail;
      }
    } else {
      memset(&views[0], 0, sizeof views[0]);
      nv++;
    }
    for (int i = 0; i < op->nin; i++) {
      RedisModuleString *name = op->argv[op->in_first + i];
      rc = open_view(ctx, name, 0, 0, &views[nv], err);
      if (rc < 0) goto fail;
      nv++;
      if (views[nv - 1].n != op->n) {
        length_mismatch(err, name, views[nv - 1].n, op->n);
        goto fail;
      }
    }
  }
  *nviews = nv;
  return 0;
fail:
  for (int i = 0; i < nv; i++) close_view(&views[i]);
  *nviews = 0;
  return -1;
}

/* Float touches per microsecond measured on past slices of bandwidth-bound ops (average, SGD, MEAN).
 * Starts at a conservative 1000 (4 GB/s). An op expected to take under half a slice runs inline:
 * blocking costs a few event-loop round trips, and a slice would hold the server as long anyway. */
static double touches_per_us = 1000.0;

static size_t op_touches_total(const spirt_op *op) {
  size_t operands = op->kind == OP_SGD ? (op->sgd.buf ? 5 : 3) : (size_t)op->nin + 1;
  size_t inputs = op->kind == OP_SGD ? 3 : (size_t)op->nin;
  return op->n * (operands + (op->check_finite ? inputs : 0));
}

static int bandwidth_bound(const spirt_op *op) {
  if (OP_READONLY(op)) return 0; /* gram: nin(nin+1)/2 products per float read; sha256: compute-bound */
  return op->kind != OP_AGGREGATE || op->agg.rule == SPIRT_AGG_MEAN;
}

static size_t chunk_floats(const spirt_op *op) {
  if (op->phase == PHASE_CHECK) return 1u << 18;
  if (op->kind == OP_AGGREGATE && op->agg.rule != SPIRT_AGG_MEAN) return 4096;
  size_t operands = op->kind == OP_SGD ? 3 : (size_t)op->nin + 1;
  size_t c = (1u << 18) / operands;
  return c < 2048 ? 2048 : c;
}

/* Runs the op until it finishes or deadline_us passes (0 = no deadline). Returns 1 when done,
 * 0 when more slices are needed, -1 on error (op->err set). Caller holds the keys' db selected. */
static int run_slice(RedisModuleCtx *ctx, spirt_op *op, uint64_t deadline_us) {
  view views[SPIRT_MAX_SOURCES + 1];
  const spirt_f32 *srcs[SPIRT_MAX_SOURCES];
  int nv;
  for (;;) {
    if (op->phase == PHASE_COMPUTE && !op->writing && op->kind != OP_SGD && !OP_READONLY(op)) prepare_dest(ctx, op);
    if (op->phase == PHASE_COMPUTE && op->kind == OP_SGD) op->writing = 1;
    if (open_all(ctx, op, views, &nv) != 0) return -1;
    const size_t chunk = chunk_floats(op);
    int phase_done = 0;
    while (!phase_done) {
      size_t len = op->n - op->pos < chunk ? op->n - op->pos : chunk;
      if (op->phase == PHASE_CHECK) {
        /* Inputs only: for average/aggregate views[1..]; for SGD params, grad and an existing buffer. */
        int vi = op->kind == OP_SGD ? op->check_idx : op->check_idx + 1;
        size_t bad = spirt_first_nonfinite(views[vi].data + op->pos, len);
        if (bad < len) {
          int argi = op->kind == OP_SGD ? (int[]){op->sgd.params, op->sgd.grad, op->sgd.buf}[op->check_idx]
                                        : op->in_first + op->check_idx;
          char extra[48];
          snprintf(extra, sizeof extra, "%zu", op->pos + bad);
          set_err(op->err, "ERR SPIRT: key '%s' has a non-finite value (NaN or Inf) at index %s", op->argv[argi],
                  extra);
          for (int i = 0; i < nv; i++) close_view(&views[i]);
          return -1;
        }
        op->pos += len;
        if (op->pos == op->n) {
          op->pos = 0;
          op->check_idx++;
          int ninputs = op->kind == OP_SGD ? (op->buf_exists ? 3 : 2) : op->nin;
          if (op->check_idx == ninputs) {
            op->phase = PHASE_COMPUTE;
            phase_done = 1;
          }
        }
      } else {
        if (op->kind == OP_SGD) {
          spirt_sgd_params hp = op->sgd.hp;
          hp.init_buf = !op->buf_exists;
          spirt_sgd(views[0].data + op->pos, views[1].data + op->pos, op->sgd.buf ? views[2].data + op->pos : NULL, len,
                    &hp);
        } else {
          for (int i = 0; i < op->nin; i++) srcs[i] = views[i + 1].data + op->pos;
          if (op->kind == OP_AVERAGE)
            spirt_average(views[0].data + op->pos, srcs, (size_t)op->nin, len);
          else if (op->kind == OP_WSUM)
            spirt_wsum(views[0].data + op->pos, srcs, op->weights, (size_t)op->nin, len);
          else if (op->kind == OP_GRAM)
            spirt_gram_accumulate(op->gram, srcs, (size_t)op->nin, len);
          else if (op->kind == OP_SHA256)
            spirt_sha256_update(op->sha, (const void *)srcs[0], len * sizeof(float));
          else
            spirt_aggregate(views[0].data + op->pos, srcs, (size_t)op->nin, len, op->agg.rule, op->agg.f, op->scratch);
        }
        op->pos += len;
        if (op->pos == op->n) {
          for (int i = 0; i < nv; i++) close_view(&views[i]);
          return 1;
        }
      }
      if (!phase_done && deadline_us && now_us() >= deadline_us) {
        for (int i = 0; i < nv; i++) close_view(&views[i]);
        return 0;
      }
    }
    for (int i = 0; i < nv; i++) close_view(&views[i]);
    /* Phase changed (check -> compute): reopen with write access. */
    if (deadline_us && now_us() >= deadline_us) return 0;
  }
}

/* After success: tell subscribers the outputs changed. */
static void notify_outputs(RedisModuleCtx *ctx, spirt_op *op) {
  if (OP_READONLY(op)) return;
  RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_GENERIC, op_events[op->kind], op->argv[op->out_key]);
  if (op->kind == OP_SGD && op->sgd.buf)
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_GENERIC, op_events[op->kind], op->argv[op->sgd.buf]);
}

/* Propagates the current bytes of a key (after a failed in-place op) so replicas and the AOF
 * hold exactly what the master holds. */
static void replicate_content(RedisModuleCtx *ctx, RedisModuleString *name) {
  RedisModuleKey *k = RedisModule_OpenKey(ctx, name, REDISMODULE_READ);
  int type = RedisModule_KeyType(k);
  if (type == REDISMODULE_KEYTYPE_STRING) {
    size_t len;
    const char *p = RedisModule_StringDMA(k, &len, REDISMODULE_READ);
    if (p) RedisModule_Replicate(ctx, "SET", "sb", name, p, len);
  } else if (type != REDISMODULE_KEYTYPE_EMPTY && RedisModule_ModuleTypeGetType(k) == SpirtTensorType) {
    const spirt_tensor *t = RedisModule_ModuleTypeGetValue(k);
    RedisModuleString *dims[SPIRT_MAX_DIMS];
    for (int i = 0; i < t->ndims; i++) dims[i] = RedisModule_CreateStringFromLongLong(NULL, t->dims[i]);
    RedisModule_Replicate(ctx, "AI.TENSORSET", "scvcb", name, "FLOAT", dims, (size_t)t->ndims, "BLOB",
                          (const char *)t->data, (size_t)t->numel * 4);
    for (int i = 0; i < t->ndims; i++) RedisModule_FreeString(NULL, dims[i]);
  }
  RedisModule_CloseKey(k);
}

/* Undo / publish what a failed op left behind. The output of average/aggregate is deleted (it
 * would otherwise look valid); SGD state is kept (it is the model) and propagated verbatim. */
static void cleanup_failed(RedisModuleCtx *ctx, spirt_op *op) {
  if (!op->writing) return;
  if (op->kind == OP_SGD) {
    replicate_content(ctx, op->argv[op->sgd.params]);
    if (op->sgd.buf) replicate_content(ctx, op->argv[op->sgd.buf]);
    return;
  }
  RedisModuleKey *k = RedisModule_OpenKey(ctx, op->argv[op->out_key], REDISMODULE_READ | REDISMODULE_WRITE);
  if (RedisModule_KeyType(k) != REDISMODULE_KEYTYPE_EMPTY) {
    RedisModule_DeleteKey(k);
    RedisModule_Replicate(ctx, "DEL", "s", op->argv[op->out_key]);
  }
  RedisModule_CloseKey(k);
}

/* Frees an op whose arguments were never retained (it ran inline or was refused): its own buffers. */
static void free_unqueued(spirt_op *op) {
  RedisModule_Free(op->scratch);
  RedisModule_Free(op->weights);
  RedisModule_Free(op->gram);
  RedisModule_Free(op->sha);
  RedisModule_Free(op);
}

/* Frees a queued op: the arguments it retained, then the op. */
static void free_op(spirt_op *op) {
  if (op == NULL) return;
  for (int i = 0; i < op->argc; i++) RedisModule_FreeString(NULL, op->argv[i]);
  RedisModule_Free(op->argv);
  free_unqueued(op);
}

static void op_free_privdata(RedisModuleCtx *ctx, void *privdata) {
  (void)ctx;
  free_op(privdata);
}

/* The reply of a finished op: the floats written, for SPIRT.GRAM the inner products as doubles, for
 * SPIRT.SHA256 the digest in hex. */
static int reply_done(RedisModuleCtx *ctx, const spirt_op *op) {
  if (op->kind == OP_SHA256) {
    uint8_t digest[32];
    char hex[65];
    spirt_sha256_final(op->sha, digest);
    spirt_sha256_hex(digest, hex);
    return RedisModule_ReplyWithStringBuffer(ctx, hex, 64);
  }
  if (op->kind != OP_GRAM) return RedisModule_ReplyWithLongLong(ctx, (long long)op->n);
  size_t pairs = (size_t)op->nin * (size_t)(op->nin + 1) / 2;
  RedisModule_ReplyWithArray(ctx, (long)pairs);
  for (size_t p = 0; p < pairs; p++) RedisModule_ReplyWithDouble(ctx, op->gram[p]);
  return REDISMODULE_OK;
}

static int op_reply(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  (void)argv;
  (void)argc;
  spirt_op *op = RedisModule_GetBlockedClientPrivateData(ctx);
  if (op->failed) return RedisModule_ReplyWithError(ctx, op->err);
  return reply_done(ctx, op);
}

/* ---- engine --------------------------------------------------------------------------------- */

static void engine_arm(int on) {
  uint64_t v = 1;
  if (on && !engine_armed) {
    if (write(engine_fd, &v, sizeof v) == sizeof v) engine_armed = 1;
  } else if (!on && engine_armed) {
    if (read(engine_fd, &v, sizeof v) == sizeof v || errno == EAGAIN) engine_armed = 0;
  }
}

static void finish_running(RedisModuleCtx *ctx, int rc) {
  spirt_op *op = running;
  running = NULL; /* before notifying: our own events must not invalidate anything */
  RedisModule_SelectDb(ctx, op->db);
  if (rc == 1) {
    if (!OP_READONLY(op)) RedisModule_Replicate(ctx, op_names[op->kind], "v", op->argv + 1, (size_t)(op->argc - 1));
    notify_outputs(ctx, op);
  } else {
    op->failed = 1;
    cleanup_failed(ctx, op);
  }
  if (rc == 1)
    stats.ops_sliced++;
  else
    stats.ops_failed++;
  stats.last_op_us = (long long)(now_us() - stats.last_op_started_us);
  RedisModule_UnblockClient(op->bc, op);
}

static void start_next(RedisModuleCtx *ctx) {
  while (running == NULL && queue_head != NULL) {
    spirt_op *op = queue_head;
    queue_head = op->next;
    if (queue_head == NULL) queue_tail = NULL;
    op->next = NULL;
    /* Keys may have changed while the op waited: validate again before touching anything. */
    RedisModule_SelectDb(ctx, op->db);
    if (validate_op(ctx, op) != 0) {
      op->failed = 1;
      RedisModule_UnblockClient(op->bc, op);
      continue;
    }
    op->phase = op->check_finite ? PHASE_CHECK : PHASE_COMPUTE;
    op->pos = 0;
    op->check_idx = 0;
    stats.last_op_started_us = now_us();
    running = op;
  }
  engine_arm(running != NULL);
}

/* Keeps the event loop from sleeping while an op is pending (the fd stays readable). */
static void engine_wakeup(int fd, void *user_data, int mask) {
  (void)fd;
  (void)user_data;
  (void)mask;
}

/* One slice per event-loop iteration, from the BEFORE_SLEEP server event. That callback gets a
 * regular module context whose release flushes everything the slice propagated (RM_Replicate,
 * a lazily expired key...) before serverCron can run; a thread-safe context would leave it queued. */
static void engine_before_sleep(RedisModuleCtx *ctx, RedisModuleEvent eid, uint64_t subevent, void *data) {
  (void)eid;
  (void)data;
  if (subevent != REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP) return;
  if (running == NULL) {
    if (queue_head != NULL) start_next(ctx);
    if (running == NULL) return;
  }
  spirt_op *op = running;
  int caller_db = RedisModule_GetSelectedDb(ctx);
  RedisModule_SelectDb(ctx, op->db);
  uint64_t t0 = now_us();
  size_t pos0 = op->pos;
  op_phase phase0 = op->phase;
  /* Slice time counts as the command's time in commandstats, SLOWLOG and LATENCY. */
  stats.slices++;
  if (op->bc) RedisModule_BlockedClientMeasureTimeStart(op->bc);
  int rc = op->invalidated ? -1 : run_slice(ctx, op, t0 + (uint64_t)slice_budget_us);
  if (op->bc) RedisModule_BlockedClientMeasureTimeEnd(op->bc);
  uint64_t spent = now_us() - t0;
  if (rc >= 0 && phase0 == PHASE_COMPUTE && op->pos > pos0 && spent > 200 && bandwidth_bound(op)) {
    size_t operands = op->kind == OP_SGD ? (op->sgd.buf ? 5 : 3) : (size_t)op->nin + 1;
    double rate = (double)(op->pos - pos0) * (double)operands / (double)spent;
    touches_per_us = 0.8 * touches_per_us + 0.2 * rate;
  }
  if (rc == 1 && op->invalidated) rc = -1;
  if (rc != 0) {
    finish_running(ctx, rc);
    start_next(ctx);
  }
  RedisModule_SelectDb(ctx, caller_db);
}

/* True when key is one of op's key arguments (not an option word or a number). */
static int op_touches(const spirt_op *op, RedisModuleString *key) {
  if (op->kind == OP_SGD) {
    if (same_key(op->argv[op->sgd.params], key) || same_key(op->argv[op->sgd.grad], key)) return 1;
    return op->sgd.buf && same_key(op->argv[op->sgd.buf], key);
  }
  if (op->out_key >= 0 && same_key(op->argv[op->out_key], key)) return 1;
  for (int i = 0; i < op->nin; i++)
    if (same_key(op->argv[op->in_first + i], key)) return 1;
  return 0;
}

static int on_keyspace_event(RedisModuleCtx *ctx, int type, const char *event, RedisModuleString *key) {
  (void)type;
  spirt_op *op = running;
  if (op == NULL || op->invalidated) return REDISMODULE_OK;
  if (RedisModule_GetSelectedDb(ctx) != op->db || !op_touches(op, key)) return REDISMODULE_OK;
  op->invalidated = 1;
  char label[72];
  key_label(key, label, sizeof label);
  snprintf(op->err, SPIRT_ERR_LEN, "ERR SPIRT: key '%s' was changed by another command (%s) during the operation",
           label, event);
  return REDISMODULE_OK;
}

static void on_server_event(RedisModuleCtx *ctx, RedisModuleEvent eid, uint64_t subevent, void *data) {
  (void)ctx;
  spirt_op *op = running;
  if (op == NULL || op->invalidated) return;
  int hit = 0;
  if (eid.id == REDISMODULE_EVENT_FLUSHDB && subevent == REDISMODULE_SUBEVENT_FLUSHDB_START) {
    const RedisModuleFlushInfoV1 *fi = data;
    hit = fi->dbnum == -1 || fi->dbnum == op->db;
  } else if (eid.id == REDISMODULE_EVENT_SWAPDB) {
    const RedisModuleSwapDbInfoV1 *si = data;
    hit = si->dbnum_first == op->db || si->dbnum_second == op->db;
  }
  if (hit) {
    op->invalidated = 1;
    snprintf(op->err, SPIRT_ERR_LEN, "ERR SPIRT: the database was flushed or swapped during the operation");
  }
}

/* INFO spirt: engine state and counters. */
static void info_func(RedisModuleInfoCtx *ctx, int for_crash_report) {
  (void)for_crash_report;
  long long queued = 0;
  for (const spirt_op *op = queue_head; op; op = op->next) queued++;
  RedisModule_InfoAddSection(ctx, "ops");
  RedisModule_InfoAddFieldLongLong(ctx, "running", running != NULL);
  RedisModule_InfoAddFieldLongLong(ctx, "queued", queued);
  RedisModule_InfoAddFieldLongLong(ctx, "ops_inline", stats.ops_inline);
  RedisModule_InfoAddFieldLongLong(ctx, "ops_sliced", stats.ops_sliced);
  RedisModule_InfoAddFieldLongLong(ctx, "ops_failed", stats.ops_failed);
  RedisModule_InfoAddFieldLongLong(ctx, "slices", stats.slices);
  RedisModule_InfoAddFieldLongLong(ctx, "last_op_us", stats.last_op_us);
  RedisModule_InfoAddFieldLongLong(ctx, "slice_budget_us", slice_budget_us);
  RedisModule_InfoAddFieldDouble(ctx, "measured_floats_per_us", touches_per_us);
}

int spirt_ops_init(RedisModuleCtx *ctx, long long slice_us) {
  slice_budget_us = slice_us;
  engine_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (engine_fd < 0) return REDISMODULE_ERR;
  if (RedisModule_EventLoopAdd(engine_fd, REDISMODULE_EVENTLOOP_READABLE, engine_wakeup, NULL) != REDISMODULE_OK)
    return REDISMODULE_ERR;
  if (RedisModule_SubscribeToKeyspaceEvents(ctx, REDISMODULE_NOTIFY_ALL, on_keyspace_event) != REDISMODULE_OK)
    return REDISMODULE_ERR;
  RedisModuleEvent flush = {REDISMODULE_EVENT_FLUSHDB, 1}, swap = {REDISMODULE_EVENT_SWAPDB, 1};
  RedisModuleEvent loop = {REDISMODULE_EVENT_EVENTLOOP, 1};
  if (RedisModule_SubscribeToServerEvent(ctx, flush, on_server_event) != REDISMODULE_OK ||
      RedisModule_SubscribeToServerEvent(ctx, swap, on_server_event) != REDISMODULE_OK)
    return REDISMODULE_ERR;
  if (RedisModule_RegisterInfoFunc(ctx, info_func) != REDISMODULE_OK) return REDISMODULE_ERR;
  if (RedisModule_SubscribeToServerEvent(ctx, loop, engine_before_sleep) != REDISMODULE_OK) {
    RedisModule_Log(ctx, "warning", "SPIRT: this Redis has no EventLoop server event (Redis >= 7.0 is required)");
    return REDISMODULE_ERR;
  }
  return REDISMODULE_OK;
}

/* ---- command entry -------------------------------------------------------------------------- */

/* Ops this small run inline: blocking costs more than the work (~1 ms of memory traffic). */
#define SPIRT_INLINE_FLOATS (1u << 18)

static int any_pending_conflict(RedisModuleString **argv, int argc) {
  const spirt_op *ops[2] = {running, queue_head};
  for (int q = 0; q < 2; q++)
    for (const spirt_op *op = ops[q]; op; op = (q == 0 ? NULL : op->next))
      for (int i = 1; i < argc; i++)
        if (op_touches(op, argv[i])) return 1;
  return 0;
}

static int enqueue_op(RedisModuleCtx *ctx, spirt_op *op, RedisModuleString **argv, int argc);

/* Common path once the arguments are parsed into op (roles set, argv not yet retained). */
static int submit_op(RedisModuleCtx *ctx, spirt_op *op, RedisModuleString **argv, int argc) {
  op->db = RedisModule_GetSelectedDb(ctx);
  op->argv = argv; /* borrowed until we decide to block */
  op->argc = argc;
  int flags = RedisModule_GetContextFlags(ctx);
  int cannot_block = (flags & (REDISMODULE_CTX_FLAGS_LUA | REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LOADING |
                               REDISMODULE_CTX_FLAGS_REPLICATED | REDISMODULE_CTX_FLAGS_DENY_BLOCKING)) != 0;
  int engine_idle = running == NULL && queue_head == NULL;
  /* Behind other ops, the keys are checked when the op starts (an earlier op may create them):
   * the op sees the database as if the queue ran one command after another. */
  if (!engine_idle && !cannot_block) return enqueue_op(ctx, op, argv, argc);
  if (validate_op(ctx, op) != 0) {
    RedisModule_ReplyWithError(ctx, op->err);
    free_unqueued(op);
    return REDISMODULE_OK;
  }
  size_t operands = op->kind == OP_SGD ? 3 : (size_t)op->nin + 1;
  int small = op->n * operands <= SPIRT_INLINE_FLOATS ||
              (bandwidth_bound(op) && (double)op_touches_total(op) <= touches_per_us * (double)slice_budget_us * 0.5);
  if (cannot_block || (engine_idle && small)) {
    if (cannot_block && any_pending_conflict(argv, argc)) {
      RedisModule_ReplyWithError(ctx, "ERR SPIRT: busy: an in-database operation on one of these keys is running");
      free_unqueued(op);
      return REDISMODULE_OK;
    }
    op->phase = op->check_finite ? PHASE_CHECK : PHASE_COMPUTE;
    uint64_t t0 = now_us();
    int rc = run_slice(ctx, op, 0);
    stats.last_op_us = (long long)(now_us() - t0);
    if (rc == 1)
      stats.ops_inline++;
    else
      stats.ops_failed++;
    if (rc == 1) {
      if (!OP_READONLY(op)) RedisModule_ReplicateVerbatim(ctx);
      notify_outputs(ctx, op);
      reply_done(ctx, op);
    } else {
      cleanup_failed(ctx, op);
      RedisModule_ReplyWithError(ctx, op->err);
    }
    free_unqueued(op);
    return REDISMODULE_OK;
  }
  return enqueue_op(ctx, op, argv, argc);
}

/* Keeps the arguments, blocks the client and queues the op (started now if the engine is idle). */
static int enqueue_op(RedisModuleCtx *ctx, spirt_op *op, RedisModuleString **argv, int argc) {
  op->argv = RedisModule_Alloc(sizeof(RedisModuleString *) * (size_t)argc);
  for (int i = 0; i < argc; i++) {
    RedisModule_RetainString(NULL, argv[i]);
    op->argv[i] = argv[i];
  }
  op->bc = RedisModule_BlockClient(ctx, op_reply, NULL, op_free_privdata, 0);
  if (queue_tail)
    queue_tail->next = op;
  else
    queue_head = op;
  queue_tail = op;
  if (running == NULL) start_next(ctx);
  return REDISMODULE_OK;
}

static int parse_into_spans(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, spirt_span *spans) {
  if (spirt_spans(argv, argc, spans) != 0) {
    RedisModule_ReplyWithError(ctx, "ERR SPIRT: too many arguments");
    return -1;
  }
  return 0;
}

static spirt_span arg_spans[SPIRT_MAX_ARGS];

/* Start of every op command: arity, argument split and parse into `args`, before any reply or
 * mutation. A keys-position request (COMMAND GETKEYS, ACL) gets no reply here: invalid arguments just
 * report no keys. Expects `ctx`, `argv`, `argc` and `getkeys` in scope. */
#define SPIRT_PARSE_OP_ARGS(min_argc, parse_fn, args)                                     \
  do {                                                                                    \
    char parse_err[SPIRT_ERR_LEN];                                                        \
    if (argc < (min_argc)) return getkeys ? REDISMODULE_OK : RedisModule_WrongArity(ctx); \
    if (getkeys && argc > SPIRT_MAX_ARGS) return REDISMODULE_OK;                          \
    if (parse_into_spans(ctx, argv, argc, arg_spans) != 0) return REDISMODULE_OK;         \
    if ((parse_fn)(arg_spans, argc, &(args), parse_err) != 0)                             \
      return getkeys ? REDISMODULE_OK : RedisModule_ReplyWithError(ctx, parse_err);       \
  } while (0)

/* SPIRT.AVERAGE dest src [src ...] [CHECKFINITE]
 * dest = element-wise mean of the sources (float32, summed in argument order, divided by n).
 * Reply: integer, the number of floats written. */
int spirt_cmd_average(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  spirt_average_args a;
  int getkeys = RedisModule_IsKeysPositionRequest(ctx);
  SPIRT_PARSE_OP_ARGS(3, spirt_parse_average, a);
  if (getkeys) {
    RedisModule_KeyAtPos(ctx, a.dest);
    for (int i = 0; i < a.nsrc; i++) RedisModule_KeyAtPos(ctx, a.src_first + i);
    return REDISMODULE_OK;
  }
  spirt_op *op = RedisModule_Calloc(1, sizeof *op);
  op->kind = OP_AVERAGE;
  op->out_key = a.dest;
  op->in_first = a.src_first;
  op->nin = a.nsrc;
  op->check_finite = a.check_finite;
  return submit_op(ctx, op, argv, argc);
}

/* SPIRT.SGD params grad LR lr [MOMENTUM m buf] [NESTEROV] [WEIGHTDECAY wd] [CHECKFINITE]
 * In place: params -= lr * (grad + wd * params), with an optional momentum buffer (created on the
 * first step). Reply: integer, the number of parameters updated. */
int spirt_cmd_sgd(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  spirt_sgd_args a;
  int getkeys = RedisModule_IsKeysPositionRequest(ctx);
  SPIRT_PARSE_OP_ARGS(5, spirt_parse_sgd, a);
  if (getkeys) {
    RedisModule_KeyAtPos(ctx, a.params);
    RedisModule_KeyAtPos(ctx, a.grad);
    if (a.buf) RedisModule_KeyAtPos(ctx, a.buf);
    return REDISMODULE_OK;
  }
  spirt_op *op = RedisModule_Calloc(1, sizeof *op);
  op->kind = OP_SGD;
  op->sgd = a;
  op->out_key = a.params;
  op->check_finite = a.check_finite;
  return submit_op(ctx, op, argv, argc);
}

/* SPIRT.AGGREGATE dest MEAN|MEDIAN|TRIMMEDMEAN f|MEAMED f src [src ...] [CHECKFINITE]
 * Per-coordinate robust aggregate of the sources into dest. Reply: integer, floats written. */
int spirt_cmd_aggregate(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  spirt_aggregate_args a;
  int getkeys = RedisModule_IsKeysPositionRequest(ctx);
  SPIRT_PARSE_OP_ARGS(4, spirt_parse_aggregate, a);
  if (getkeys) {
    RedisModule_KeyAtPos(ctx, a.dest);
    for (int i = 0; i < a.nsrc; i++) RedisModule_KeyAtPos(ctx, a.src_first + i);
    return REDISMODULE_OK;
  }
  spirt_op *op = RedisModule_Calloc(1, sizeof *op);
  op->kind = OP_AGGREGATE;
  op->agg = a;
  op->out_key = a.dest;
  op->in_first = a.src_first;
  op->nin = a.nsrc;
  op->check_finite = a.check_finite;
  op->scratch = RedisModule_Alloc(sizeof(float) * (size_t)a.nsrc);
  return submit_op(ctx, op, argv, argc);
}

/* SPIRT.WSUM dest n src [src ...] w [w ...] [CHECKFINITE]
 * dest = w_1 * src_1 + ... + w_n * src_n, summed in argument order in double precision, stored as float32.
 * Reply: integer, the number of floats written. */
int spirt_cmd_wsum(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  spirt_wsum_args a;
  int getkeys = RedisModule_IsKeysPositionRequest(ctx);
  char parse_err[SPIRT_ERR_LEN];
  if (argc < 5) return getkeys ? REDISMODULE_OK : RedisModule_WrongArity(ctx);
  if (getkeys && argc > SPIRT_MAX_ARGS) return REDISMODULE_OK;
  if (parse_into_spans(ctx, argv, argc, arg_spans) != 0) return REDISMODULE_OK;
  double *weights = RedisModule_Alloc(sizeof(double) * (size_t)argc);
  if (spirt_parse_wsum(arg_spans, argc, &a, weights, parse_err) != 0) {
    RedisModule_Free(weights);
    return getkeys ? REDISMODULE_OK : RedisModule_ReplyWithError(ctx, parse_err);
  }
  if (getkeys) {
    RedisModule_Free(weights);
    RedisModule_KeyAtPos(ctx, a.dest);
    for (int i = 0; i < a.nsrc; i++) RedisModule_KeyAtPos(ctx, a.src_first + i);
    return REDISMODULE_OK;
  }
  spirt_op *op = RedisModule_Calloc(1, sizeof *op);
  op->kind = OP_WSUM;
  op->out_key = a.dest;
  op->in_first = a.src_first;
  op->nin = a.nsrc;
  op->check_finite = a.check_finite;
  op->weights = weights;
  return submit_op(ctx, op, argv, argc);
}

/* SPIRT.GRAM src [src ...] [CHECKFINITE]
 * Read-only: the inner products <src_a, src_b> for a <= b (row by row), summed in double precision.
 * Reply: array of n(n+1)/2 doubles. */
int spirt_cmd_gram(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  spirt_gram_args a;
  int getkeys = RedisModule_IsKeysPositionRequest(ctx);
  SPIRT_PARSE_OP_ARGS(2, spirt_parse_gram, a);
  if (getkeys) {
    for (int i = 0; i < a.nsrc; i++) RedisModule_KeyAtPos(ctx, a.src_first + i);
    return REDISMODULE_OK;
  }
  spirt_op *op = RedisModule_Calloc(1, sizeof *op);
  op->kind = OP_GRAM;
  op->out_key = -1;
  op->in_first = a.src_first;
  op->nin = a.nsrc;
  op->check_finite = a.check_finite;
  op->gram = RedisModule_Calloc((size_t)a.nsrc * (size_t)(a.nsrc + 1) / 2, sizeof(double));
  return submit_op(ctx, op, argv, argc);
}

/* SPIRT.SHA256 key
 * Read-only: the SHA-256 of the key's bytes (a float32 string or tensor: the bytes GET returns for a string),
 * so that a peer signs its averaged gradient without reading it out. Reply: 64 lowercase hex digits. */
int spirt_cmd_sha256(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
  if (RedisModule_IsKeysPositionRequest(ctx)) {
    if (argc == 2) RedisModule_KeyAtPos(ctx, 1);
    return REDISMODULE_OK;
  }
  if (argc != 2) return RedisModule_WrongArity(ctx);
  spirt_op *op = RedisModule_Calloc(1, sizeof *op);
  op->kind = OP_SHA256;
  op->out_key = -1;
  op->in_first = 1;
  op->nin = 1;
  op->sha = RedisModule_Alloc(sizeof *op->sha);
  spirt_sha256_init(op->sha);
  return submit_op(ctx, op, argv, argc);
}
