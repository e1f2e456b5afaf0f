/* test_core.c - unit tests of the pure tensor core and the parsers (no Redis). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "sha256.h"
#include "tensor_core.h"

static int failures = 0, checks = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

static uint32_t rng_state = 12345;
static float rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((int32_t)(rng_state >> 8) - (1 << 23)) / (float)(1 << 20);
}

static int bits_equal(float a, float b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static void test_shape(void) {
  uint64_t n;
  int64_t d1[] = {2, 3, 4};
  CHECK(spirt_shape_numel(d1, 3, &n) == 0 && n == 24);
  int64_t d0[] = {2, 0};
  CHECK(spirt_shape_numel(d0, 2, &n) == -1);
  int64_t dneg[] = {-1};
  CHECK(spirt_shape_numel(dneg, 1, &n) == -1);
  CHECK(spirt_shape_numel(d1, 0, &n) == -1);
  CHECK(spirt_shape_numel(d1, SPIRT_MAX_DIMS + 1, &n) == -1);
  int64_t big[] = {1 << 20, 1 << 20};
  CHECK(spirt_shape_numel(big, 2, &n) == -1);
  int64_t huge[] = {INT64_MAX, INT64_MAX};
  CHECK(spirt_shape_numel(huge, 2, &n) == -1);
}

static void test_nonfinite(void) {
  enum { N = 5000 };
  static float x[N];
  for (int i = 0; i < N; i++) x[i] = rnd();
  CHECK(spirt_first_nonfinite(x, N) == N);
  x[3001] = NAN;
  CHECK(spirt_first_nonfinite(x, N) == 3001);
  x[17] = -INFINITY;
  CHECK(spirt_first_nonfinite(x, N) == 17);
  CHECK(spirt_first_nonfinite(x, 0) == 0);
}

/* Straightforward per-coordinate reference, same summation order. */
static void average_ref(float *dst, float **srcs, size_t k, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float s = srcs[0][i];
    for (size_t j = 1; j < k; j++) s += srcs[j][i];
    dst[i] = s / (float)k;
  }
}

static void test_average(void) {
  enum { N = 5003, K = 7 };
  /* Misaligned storage: +1 byte, like Redis sds buffers. */
  char *raw = malloc((K + 2) * N * sizeof(float) + 8);
  float *srcs[K];
  spirt_f32 *usrcs[K];
  for (int j = 0; j < K; j++) {
    srcs[j] = malloc(N * sizeof(float));
    usrcs[j] = (spirt_f32 *)(raw + 1 + (size_t)j * N * sizeof(float));
    for (int i = 0; i < N; i++) {
      srcs[j][i] = rnd();
      memcpy((char *)(usrcs[j] + i), &srcs[j][i], sizeof(float));
    }
  }
  float *want = malloc(N * sizeof(float));
  spirt_f32 *got = (spirt_f32 *)(raw + 1 + (size_t)K * N * sizeof(float));
  average_ref(want, srcs, K, N);
  spirt_average(got, (const spirt_f32 *const *)usrcs, K, N);
  int same = 1;
  for (int i = 0; i < N; i++) same &= bits_equal(got[i], want[i]);
  CHECK(same);
  /* In place: dst aliases source 0. */
  spirt_average(usrcs[0], (const spirt_f32 *const *)usrcs, K, N);
  same = 1;
  for (int i = 0; i < N; i++) same &= bits_equal(usrcs[0][i], want[i]);
  CHECK(same);
  /* k = 1 copies; exact small case. */
  float a[3] = {1, 2, 3}, b[3] = {3, 4, 6}, d[3];
  const spirt_f32 *ab[2] = {a, b};
  spirt_average(d, ab, 2, 3);
  CHECK(d[0] == 2 && d[1] == 3 && d[2] == 4.5f);
  for (int j = 0; j < K; j++) free(srcs[j]);
  free(want);
  free(raw);
}

static void test_sgd(void) {
  enum { N = 1001 };
  float p[N], g[N], buf[N], p2[N], buf2[N];
  for (int i = 0; i < N; i++) {
    p[i] = p2[i] = rnd();
    g[i] = rnd();
    buf[i] = buf2[i] = rnd();
  }
  spirt_sgd_params hp = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f, .nesterov = 0, .init_buf = 0};
  spirt_sgd(p, g, buf, N, &hp);
  int same = 1;
  for (int i = 0; i < N; i++) {
    float d = g[i] + 0.01f * p2[i];
    float b = 0.9f * buf2[i] + d;
    float np = p2[i] - 0.1f * b;
    same &= bits_equal(buf[i], b) && bits_equal(p[i], np);
  }
  CHECK(same);
  /* Plain SGD, wd = 0 skips the term even for an infinite parameter. */
  float q[2] = {INFINITY, 1.0f}, gq[2] = {1.0f, 2.0f};
  spirt_sgd_params plain = {.lr = 0.5f};
  spirt_sgd(q, gq, NULL, 2, &plain);
  CHECK(isinf(q[0]) && q[1] == 0.0f);
  /* First momentum step: buf = d, p -= lr * d; nesterov: d + mu * b. */
  float r[1] = {1.0f}, gr[1] = {2.0f}, br[1] = {123.0f};
  spirt_sgd_params first = {.lr = 0.25f, .momentum = 0.5f, .nesterov = 1, .init_buf = 1};
  spirt_sgd(r, gr, br, 1, &first);
  CHECK(br[0] == 2.0f && r[0] == 1.0f - 0.25f * (2.0f + 0.5f * 2.0f));
}

static void test_aggregate(void) {
  float v[8];
  float m5[] = {5, 1, 4, 2, 3};
  memcpy(v, m5, sizeof m5);
  CHECK(spirt_aggregate_one(v, 5, SPIRT_AGG_MEDIAN, 0) == 3);
  float m4[] = {10, 1, 4, 2};
  memcpy(v, m4, sizeof m4);
  CHECK(spirt_aggregate_one(v, 4, SPIRT_AGG_MEDIAN, 0) == 3);
  float t5[] = {100, 1, 2, 3, -50};
  memcpy(v, t5, sizeof t5);
  CHECK(spirt_aggregate_one(v, 5, SPIRT_AGG_TRIMMED_MEAN, 1) == 2);
  /* MeaMed f=2 on {0,1,2,3,100}: median 2, the 3 closest are 1,2,3 -> 2. */
  float mm[] = {100, 3, 0, 2, 1};
  memcpy(v, mm, sizeof mm);
  CHECK(spirt_aggregate_one(v, 5, SPIRT_AGG_MEAMED, 2) == 2);
  /* Tie rule: {0, 2, 4}, f=1: median 2; 0 and 4 are both at distance 2 -> the lower (0) is taken. */
  float tie[] = {4, 0, 2};
  memcpy(v, tie, sizeof tie);
  CHECK(spirt_aggregate_one(v, 3, SPIRT_AGG_MEAMED, 1) == 1);
  /* Even n: {0, 1, 10, 11}, f=1: median 5.5, distances 5.5, 4.5, 4.5, 5.5 -> 1, 10 then tie 0/11 -> 0. */
  float ev[] = {11, 0, 10, 1};
  memcpy(v, ev, sizeof ev);
  CHECK(bits_equal(spirt_aggregate_one(v, 4, SPIRT_AGG_MEAMED, 1), (0.0f + 1.0f + 10.0f) / 3.0f));
  /* f = 0 MeaMed = mean of all (in sorted order). */
  float all[] = {3, 1, 2};
  memcpy(v, all, sizeof all);
  CHECK(spirt_aggregate_one(v, 3, SPIRT_AGG_MEAMED, 0) == 2);
  /* Vector form with a Byzantine source. */
  float s0[] = {1, 2}, s1[] = {1.5f, 2.5f}, s2[] = {1e9f, -1e9f}, dst[2], scratch[3];
  const spirt_f32 *ss[] = {s0, s1, s2};
  spirt_aggregate(dst, ss, 3, 2, SPIRT_AGG_MEDIAN, 0, scratch);
  CHECK(dst[0] == 1.5f && dst[1] == 2.0f);
  spirt_aggregate(dst, ss, 3, 2, SPIRT_AGG_MEAN, 0, scratch);
  CHECK(bits_equal(dst[0], (1.0f + 1.5f + 1e9f) / 3.0f));
}

static spirt_span S(const char *s) {
  spirt_span x = {s, strlen(s)};
  return x;
}

static void test_parse(void) {
  char err[SPIRT_ERR_LEN];
  spirt_tensorset_args ts;
  float blob[4] = {1, 2, 3, 4};
  spirt_span a1[] = {S("AI.TENSORSET"), S("k"), S("float"), S("2"), S("2"), S("BLOB"), {(const char *)blob, 16}};
  CHECK(spirt_parse_tensorset(a1, 7, &ts, err) == 0 && ts.numel == 4 && ts.mode == SPIRT_DATA_BLOB && ts.ndims == 2);
  a1[6].len = 15;
  CHECK(spirt_parse_tensorset(a1, 7, &ts, err) == -1 && strstr(err, "ERR SPIRT: blob has 15 bytes"));
  spirt_span a2[] = {S("AI.TENSORSET"), S("k"), S("DOUBLE"), S("2")};
  CHECK(spirt_parse_tensorset(a2, 4, &ts, err) == -1 && strstr(err, "unsupported data type DOUBLE"));
  spirt_span a3[] = {S("AI.TENSORSET"), S("k"), S("FLOAT"), S("0")};
  CHECK(spirt_parse_tensorset(a3, 4, &ts, err) == -1 && strstr(err, "empty tensors"));
  spirt_span a4[] = {S("AI.TENSORSET"), S("k"), S("FLOAT"), S("3"), S("VALUES"), S("1"), S("2.5"), S("-inf")};
  float out[3];
  CHECK(spirt_parse_tensorset(a4, 8, &ts, err) == 0 && spirt_parse_values(a4, &ts, out, err) == 0 && out[1] == 2.5f &&
        isinf(out[2]));
  a4[6] = S("2.5x");
  CHECK(spirt_parse_tensorset(a4, 8, &ts, err) == 0 && spirt_parse_values(a4, &ts, out, err) == -1);
  a4[6] = S("1e39");
  CHECK(spirt_parse_values(a4, &ts, out, err) == -1);
  spirt_span a5[] = {S("AI.TENSORSET"), S("k"), S("FLOAT"), S("3"), S("VALUES"), S("1")};
  CHECK(spirt_parse_tensorset(a5, 6, &ts, err) == -1 && strstr(err, "got 1 values but shape needs 3"));
  spirt_span a6[] = {S("AI.TENSORSET"), S("k"), S("FLOAT"), S("BLOB"), S("x")};
  CHECK(spirt_parse_tensorset(a6, 5, &ts, err) == -1 && strstr(err, "missing shape"));
  spirt_span a7[] = {S("AI.TENSORSET"), S("k"), S("FLOAT"), S(" 3")};
  CHECK(spirt_parse_tensorset(a7, 4, &ts, err) == -1);

  int flags;
  spirt_span g1[] = {S("AI.TENSORGET"), S("k"), S("meta"), S("blob")};
  CHECK(spirt_parse_tensorget(g1, 4, &flags, err) == 0 && flags == (SPIRT_GET_META | SPIRT_GET_BLOB));
  CHECK(spirt_parse_tensorget(g1, 2, &flags, err) == 0 && flags == (SPIRT_GET_META | SPIRT_GET_VALUES));
  spirt_span g2[] = {S("AI.TENSORGET"), S("k"), S("BLOB"), S("VALUES")};
  CHECK(spirt_parse_tensorget(g2, 4, &flags, err) == -1);

  spirt_average_args av;
  spirt_span v1[] = {S("SPIRT.AVERAGE"), S("d"), S("a"), S("b"), S("CHECKFINITE")};
  CHECK(spirt_parse_average(v1, 5, &av, err) == 0 && av.nsrc == 2 && av.check_finite);
  CHECK(spirt_parse_average(v1, 3, &av, err) == 0 && av.nsrc == 1 && !av.check_finite);

  spirt_sgd_args sg;
  spirt_span s1[] = {S("SPIRT.SGD"), S("p"),   S("g"),           S("LR"),   S("0.1"),     S("MOMENTUM"),
                     S("0.9"),       S("buf"), S("WEIGHTDECAY"), S("1e-4"), S("NESTEROV")};
  CHECK(spirt_parse_sgd(s1, 11, &sg, err) == 0 && sg.buf == 7 && sg.hp.nesterov && sg.hp.lr == 0.1f);
  CHECK(spirt_parse_sgd(s1, 5, &sg, err) == 0 && sg.buf == 0);
  spirt_span s2[] = {S("SPIRT.SGD"), S("p"), S("g"), S("LR"), S("nan")};
  CHECK(spirt_parse_sgd(s2, 5, &sg, err) == -1);
  spirt_span s3[] = {S("SPIRT.SGD"), S("p"), S("g"), S("MOMENTUM"), S("0.9"), S("b")};
  CHECK(spirt_parse_sgd(s3, 6, &sg, err) == -1 && strstr(err, "LR is required"));
  spirt_span s4[] = {S("SPIRT.SGD"), S("p"), S("g"), S("LR"), S("1"), S("NESTEROV")};
  CHECK(spirt_parse_sgd(s4, 6, &sg, err) == -1);
  spirt_span s5[] = {S("SPIRT.SGD"), S("p"), S("g"), S("LR"), S("1"), S("LR"), S("2")};
  CHECK(spirt_parse_sgd(s5, 7, &sg, err) == -1);

  spirt_aggregate_args ag;
  spirt_span r1[] = {S("SPIRT.AGGREGATE"), S("d"), S("TRIMMEDMEAN"), S("1"), S("a"), S("b"), S("c")};
  CHECK(spirt_parse_aggregate(r1, 7, &ag, err) == 0 && ag.nsrc == 3 && ag.f == 1);
  CHECK(spirt_parse_aggregate(r1, 6, &ag, err) == -1 && strstr(err, "2f < n"));
  spirt_span r2[] = {S("SPIRT.AGGREGATE"), S("d"), S("KRUM"), S("a")};
  CHECK(spirt_parse_aggregate(r2, 4, &ag, err) == -1);
  spirt_span r3[] = {S("SPIRT.AGGREGATE"), S("d"), S("MEDIAN"), S("a"), S("checkfinite")};
  CHECK(spirt_parse_aggregate(r3, 5, &ag, err) == 0 && ag.nsrc == 1 && ag.check_finite);

  uint64_t dims[2] = {2, 3}, numel;
  CHECK(spirt_check_stored_tensor(1, 2, dims, 24, &numel, err) == 0 && numel == 6);
  CHECK(spirt_check_stored_tensor(2, 2, dims, 24, &numel, err) == -1 && strstr(err, "encoding version"));
  CHECK(spirt_check_stored_tensor(1, 2, dims, 20, &numel, err) == -1);
  CHECK(spirt_check_stored_tensor(1, 9, dims, 24, &numel, err) == -1);
}

static void test_aggregate4_matches_generic(void) {
  enum { N = 20000 };
  static float a[N], b[N], c[N], d[N], fast[N];
  unsigned seed = 7;
  for (int i = 0; i < N; i++) {
    float *v[4] = {a, b, c, d};
    for (int j = 0; j < 4; j++) {
      seed = seed * 1664525u + 1013904223u;
      /* Many ties and zeros of both signs on purpose, and ordinary values. */
      int r = (int)(seed >> 24);
      v[j][i] = r < 32 ? 0.0f : r < 64 ? -0.0f : r < 96 ? 1.0f : (float)((int)(seed >> 8) % 2001 - 1000) / 7.0f;
    }
  }
  const spirt_f32 *srcs[4] = {a, b, c, d};
  spirt_agg_rule rules[3] = {SPIRT_AGG_MEDIAN, SPIRT_AGG_TRIMMED_MEAN, SPIRT_AGG_MEAMED};
  for (int r = 0; r < 3; r++) {
    spirt_aggregate(fast, srcs, 4, N, rules[r], 1, NULL);
    int same = 1;
    for (int i = 0; i < N; i++) {
      float v[4] = {a[i], b[i], c[i], d[i]};
      float slow = spirt_aggregate_one(v, 4, rules[r], 1);
      same &= memcmp(&slow, &fast[i], sizeof slow) == 0;
    }
    CHECK(same);
  }
}

static void test_gram_wsum(void) {
  enum { N = 5003 };
  static float a[N], b[N], c[N], d[N];
  for (int i = 0; i < N; i++) {
    a[i] = (float)((i % 7) - 3) * 0.25f;
    b[i] = (float)((i % 11) - 5) * 0.5f;
    c[i] = 1.0f / (float)(1 + i % 13);
  }
  const spirt_f32 *srcs[3] = {a, b, c};
  double acc[6] = {0};
  /* Two halves accumulate to the same as one pass (the slices of a sliced op). */
  spirt_gram_accumulate(acc, srcs, 3, 2000);
  const spirt_f32 *rest[3] = {a + 2000, b + 2000, c + 2000};
  spirt_gram_accumulate(acc, rest, 3, N - 2000);
  double ref[6] = {0};
  const float *v[3] = {a, b, c};
  int p = 0;
  for (int x = 0; x < 3; x++)
    for (int y = x; y < 3; y++, p++)
      for (int i = 0; i < N; i++) ref[p] += (double)v[x][i] * (double)v[y][i];
  int close = 1;
  for (int q = 0; q < 6; q++) close &= fabs(acc[q] - ref[q]) <= 1e-9 * (1 + fabs(ref[q]));
  CHECK(close);
  double w[3] = {0.5, 0, -2};
  spirt_wsum(d, srcs, w, 3, N);
  int same = 1;
  for (int i = 0; i < N; i++) same &= d[i] == (float)(0.5 * (double)a[i] + -2.0 * (double)c[i]);
  CHECK(same);
  /* dst may be a source. */
  double w1[1] = {2};
  const spirt_f32 *self[1] = {d};
  spirt_wsum(d, self, w1, 1, N);
  CHECK(d[1] == (float)(2.0 * (double)(float)(0.5 * (double)a[1] + -2.0 * (double)c[1])));

  char err[SPIRT_ERR_LEN];
  spirt_wsum_args wa;
  double ws[4];
  spirt_span ok[] = {S("SPIRT.WSUM"), S("d"), S("2"), S("x"), S("y"), S("0.5"), S("-1"), S("CHECKFINITE")};
  CHECK(spirt_parse_wsum(ok, 8, &wa, ws, err) == 0 && wa.nsrc == 2 && wa.w_first == 5 && wa.check_finite && ws[1] == -1);
  CHECK(spirt_parse_wsum(ok, 6, &wa, ws, err) == -1 && strstr(err, "expected 2 sources and 2 weights"));
  spirt_span bad[] = {S("SPIRT.WSUM"), S("d"), S("1"), S("x"), S("nan")};
  CHECK(spirt_parse_wsum(bad, 5, &wa, ws, err) == -1 && strstr(err, "weight 1 must be a finite number"));
  spirt_span zero[] = {S("SPIRT.WSUM"), S("d"), S("0"), S("x"), S("1")};
  CHECK(spirt_parse_wsum(zero, 5, &wa, ws, err) == -1 && strstr(err, "n must be an integer"));
  spirt_gram_args ga;
  spirt_span g1[] = {S("SPIRT.GRAM"), S("x"), S("y"), S("CHECKFINITE")};
  CHECK(spirt_parse_gram(g1, 4, &ga, err) == 0 && ga.nsrc == 2 && ga.check_finite);
  CHECK(spirt_parse_gram(g1, 1, &ga, err) == -1);
}


static void sha_hex_of(const void *data, size_t len, size_t piece, char out[65]) {
  spirt_sha256 c;
  uint8_t d[32];
  spirt_sha256_init(&c);
  const uint8_t *p = data;
  for (size_t off = 0; off < len; off += piece) spirt_sha256_update(&c, p + off, len - off < piece ? len - off : piece);
  spirt_sha256_final(&c, d);
  spirt_sha256_hex(d, out);
}

/* FIPS 180-4 examples, a million 'a', and the accelerated code against the portable code on random bytes of
 * every length around the block and padding boundaries, fed in pieces of several sizes. */
static void test_sha256(void) {
  static const struct {
    const char *msg;
    const char *hex;
  } vectors[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  char hex[65], ref[65];
  for (int mode = 0; mode < 2; mode++) {
    spirt_sha256_force_portable(mode);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
      sha_hex_of(vectors[i].msg, strlen(vectors[i].msg), 1000, hex);
      CHECK(strcmp(hex, vectors[i].hex) == 0);
    }
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    sha_hex_of(a, n, 4096, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    free(a);
  }
  spirt_sha256_force_portable(0);
  printf("test_core: sha256 uses the %s code\n", spirt_sha256_accelerated() ? "SHA-extension" : "portable");
  uint8_t buf[300];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(rnd() * 97.0f);
  static const size_t pieces[] = {1, 7, 64, 65, 300};
  for (size_t len = 0; len <= sizeof buf; len++) {
    spirt_sha256_force_portable(1);
    sha_hex_of(buf, len, 300, ref);
    spirt_sha256_force_portable(0);
    int same = 1;
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
      sha_hex_of(buf, len, pieces[k], hex);
      same &= strcmp(hex, ref) == 0;
    }
    CHECK(same);
  }
}

int main(void) {
  test_shape();
  test_nonfinite();
  test_average();
  test_sgd();
  test_aggregate();
  test_parse();
  test_gram_wsum();
  test_aggregate4_matches_generic();
  test_sha256();
  printf("test_core: %d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
