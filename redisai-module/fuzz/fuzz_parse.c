/*
 * fuzz_parse.c - fuzz target over the argument and blob parsers and the stored-tensor check.
 *
 * spirt_fuzz_one() is a libFuzzer-style entry (build with clang -fsanitize=fuzzer and
 * -DSPIRT_LIBFUZZER to use libFuzzer). Without libFuzzer, main() runs a bounded, seeded
 * mutation loop for the given number of seconds under ASan/UBSan (the Makefile's `make fuzz`).
 *
 * Input layout: byte 0 picks the command; the rest is split into arguments at 0xFF bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"

#define MAX_FUZZ_ARGS 64

int spirt_fuzz_one(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  spirt_span argv[MAX_FUZZ_ARGS];
  int argc = 1;
  static const char *const names[] = {"AI.TENSORSET", "AI.TENSORGET",    "SPIRT.AVERAGE",
                                      "SPIRT.SGD",    "SPIRT.AGGREGATE", "STORED"};
  int which = data[0] % 6;
  argv[0].ptr = names[which];
  argv[0].len = strlen(names[which]);
  size_t start = 1;
  for (size_t i = 1; i <= size && argc < MAX_FUZZ_ARGS; i++) {
    if (i == size || data[i] == 0xFF) {
      argv[argc].ptr = (const char *)data + start;
      argv[argc].len = i - start;
      argc++;
      start = i + 1;
    }
  }
  char err[SPIRT_ERR_LEN];
  err[0] = '\0';
  switch (which) {
    case 0: {
      spirt_tensorset_args a;
      if (spirt_parse_tensorset(argv, argc, &a, err) == 0) {
        if (a.mode == SPIRT_DATA_VALUES) {
          float *out = malloc(sizeof(float) * (size_t)a.numel);
          spirt_parse_values(argv, &a, out, err);
          free(out);
        } else if (a.mode == SPIRT_DATA_BLOB) {
          /* The blob must be exactly numel floats: read all of it (ASan checks the bounds). */
          volatile float sink = 0;
          float *buf = malloc(a.blob.len);
          memcpy(buf, a.blob.ptr, a.blob.len);
          sink += (float)spirt_first_nonfinite(buf, (size_t)a.numel);
          (void)sink;
          free(buf);
        }
      }
      break;
    }
    case 1: {
      int flags;
      spirt_parse_tensorget(argv, argc, &flags, err);
      break;
    }
    case 2: {
      spirt_average_args a;
      if (spirt_parse_average(argv, argc, &a, err) == 0 && (a.src_first + a.nsrc > argc || a.nsrc < 1)) abort();
      break;
    }
    case 3: {
      spirt_sgd_args a;
      if (spirt_parse_sgd(argv, argc, &a, err) == 0 && (a.params >= argc || a.grad >= argc || a.buf >= argc)) abort();
      break;
    }
    case 4: {
      spirt_aggregate_args a;
      if (spirt_parse_aggregate(argv, argc, &a, err) == 0) {
        if (a.src_first + a.nsrc > argc || a.nsrc < 1) abort();
        if ((a.rule == SPIRT_AGG_TRIMMED_MEAN || a.rule == SPIRT_AGG_MEAMED) && 2 * a.f >= (size_t)a.nsrc) abort();
        /* Run the kernel on the source bytes as floats (one coordinate). */
        float vals[SPIRT_MAX_SOURCES];
        for (int i = 0; i < a.nsrc; i++) {
          float v = 0;
          memcpy(&v, argv[a.src_first + i].ptr, argv[a.src_first + i].len < 4 ? argv[a.src_first + i].len : 4);
          vals[i] = v;
        }
        (void)spirt_aggregate_one(vals, (size_t)a.nsrc, a.rule, a.f);
      }
      break;
    }
    default: {
      /* Stored tensor header: encver, ndims, dims from the first argument's bytes. */
      uint64_t dims[SPIRT_MAX_DIMS] = {0}, numel;
      uint8_t hdr[2 + 8 * SPIRT_MAX_DIMS] = {0};
      memcpy(hdr, argv[argc > 1 ? 1 : 0].ptr,
             argv[argc > 1 ? 1 : 0].len < sizeof hdr ? argv[argc > 1 ? 1 : 0].len : sizeof hdr);
      uint64_t ndims = hdr[1] % 12;
      for (uint64_t i = 0; i < SPIRT_MAX_DIMS; i++) memcpy(&dims[i], hdr + 2 + 8 * i, 8);
      if (ndims <= SPIRT_MAX_DIMS)
        spirt_check_stored_tensor(hdr[0] % 3, ndims, dims, argc > 2 ? argv[2].len : 0, &numel, err);
      break;
    }
  }
  if (strlen(err) >= SPIRT_ERR_LEN) abort();
  return 0;
}

#ifdef SPIRT_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return spirt_fuzz_one(data, size);
}
#else

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Seeds: valid commands (so mutations explore deep paths) with 0xFF separators. */
#define SEED(lit) \
  { lit, sizeof(lit) - 1 }
static const struct {
  const char *data;
  size_t len;
} seeds[] = {
    SEED("\x00k\xff"
         "FLOAT\xff"
         "2\xff"
         "2\xff"
         "VALUES\xff"
         "1\xff"
         "2\xff"
         "3\xff"
         "4"),
    SEED("\x00k\xff"
         "FLOAT\xff"
         "1\xff"
         "BLOB\xff"
         "abcd"),
    SEED("\x00k\xff"
         "FLOAT\xff"
         "3\xff"
         "2"),
    SEED("\x01k\xff"
         "META\xff"
         "BLOB"),
    SEED("\x02"
         "d\xff"
         "a\xff"
         "b\xff"
         "CHECKFINITE"),
    SEED("\x03p\xff"
         "g\xff"
         "LR\xff"
         "0.1\xff"
         "MOMENTUM\xff"
         "0.9\xff"
         "b\xff"
         "WEIGHTDECAY\xff"
         "1e-4\xff"
         "NESTEROV"),
    SEED("\x04"
         "d\xff"
         "MEAMED\xff"
         "1\xff"
         "a\xff"
         "b\xff"
         "c"),
    SEED("\x04"
         "d\xff"
         "TRIMMEDMEAN\xff"
         "1\xff"
         "a\xff"
         "b\xff"
         "c\xff"
         "CHECKFINITE"),
    SEED("\x05\x01\x02\x03\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\xff"
         "xxxxxxxxxxxxxxxxxxxxxxxx"),
};

static const char *const dictionary[] = {"FLOAT",       "BLOB",     "VALUES",      "META",
                                         "LR",          "MOMENTUM", "WEIGHTDECAY", "NESTEROV",
                                         "CHECKFINITE", "MEDIAN",   "MEAMED",      "TRIMMEDMEAN",
                                         "MEAN",        "-1",       "0",           "nan",
                                         "inf",         "1e39",     "2147483648",  "9223372036854775808",
                                         "0x10",        " 1",       "1 ",          ""};

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 20;
  uint8_t buf[4096];
  size_t nseeds = sizeof seeds / sizeof seeds[0];
  time_t start = time(NULL);
  unsigned long long iterations = 0;
  for (size_t s = 0; s < nseeds; s++) spirt_fuzz_one((const uint8_t *)seeds[s].data, seeds[s].len);
  while (difftime(time(NULL), start) < seconds) {
    for (int batch = 0; batch < 1000; batch++, iterations++) {
      size_t s = next_rand() % nseeds;
      size_t len = seeds[s].len;
      memcpy(buf, seeds[s].data, len);
      int muts = 1 + (int)(next_rand() % 8);
      for (int m = 0; m < muts; m++) {
        size_t pos = len ? next_rand() % len : 0;
        switch (next_rand() % 6) {
          case 0: /* flip a byte */
            if (len) buf[pos] ^= (uint8_t)(1u << (next_rand() % 8));
            break;
          case 1: /* random byte */
            if (len) buf[pos] = (uint8_t)next_rand();
            break;
          case 2: /* truncate */ len = pos; break;
          case 3: /* insert a separator */
            if (len < sizeof buf - 1) {
              memmove(buf + pos + 1, buf + pos, len - pos);
              buf[pos] = 0xFF;
              len++;
            }
            break;
          case 4: { /* insert a dictionary word */
            const char *w = dictionary[next_rand() % (sizeof dictionary / sizeof dictionary[0])];
            size_t wl = strlen(w);
            if (len + wl + 1 < sizeof buf) {
              memmove(buf + pos + wl + 1, buf + pos, len - pos);
              buf[pos] = 0xFF;
              memcpy(buf + pos + 1, w, wl);
              len += wl + 1;
            }
            break;
          }
          default: { /* duplicate a chunk (long argument lists) */
            size_t cl = 1 + next_rand() % 16;
            if (pos + cl <= len && len + cl < sizeof buf) {
              memmove(buf + pos + cl, buf + pos, len - pos);
              len += cl;
            }
            break;
          }
        }
      }
      spirt_fuzz_one(buf, len);
    }
  }
  printf("fuzz_parse: %llu inputs in %.0f s, no crash\n", iterations, seconds);
  return 0;
}
#endif
