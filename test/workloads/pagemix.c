// pagemix: fills anonymous memory with a known mix of page contents, prints
// "ready" and idles, so KSM, zram and the scanner can be checked against a
// mix whose answer is known. Static, no libc beyond syscalls wrappers.
//
//   pagemix SEED PAGES ZERO SAME SHARED WITHIN TEXT   (percentages)
//
// ZERO    pages of zeros (written, so they are present)
// SAME    pages filled with one repeated 8-byte word (4 distinct words)
// SHARED  text-like pages identical in every pagemix (seed 0): page j is the same everywhere
// WITHIN  text-like pages in pairs, unique to this SEED (two copies of each)
// TEXT    compressible pages unique to this SEED: alternately text (~1.9x with lz4) and records (≤ 2 KiB)
// rest    random pages unique to this SEED (incompressible)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t rng(uint64_t *s) { // splitmix64
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static const char *words[] = {"the ", "memory ", "page ", "container ", "kernel ", "of ", "and ", "merge ",
  "shared ", "zram ", "cgroup ", "reclaim ", "a ", "to ", "in ", "balloon "};

static void text_page(unsigned char *p, uint64_t seed) {
  uint64_t s = seed;
  size_t n = 0;
  while (n < 4096) {
    uint64_t r = rng(&s);
    const char *w = (r & 3) == 0 ? NULL : words[(r >> 8) & 15];
    char buf[24];
    size_t len;
    if (w) { len = strlen(w); memcpy(buf, w, len); }
    else { len = 6; for (int i = 0; i < 5; i++) buf[i] = (char)('a' + (r >> (16 + 5 * i)) % 26); buf[5] = ' '; }
    if (len > 4096 - n) len = 4096 - n;
    memcpy(p + n, buf, len);
    n += len;
  }
}

// 64-byte records differing in a counter and one random byte: compresses to well under 2 KiB.
static void record_page(unsigned char *p, uint64_t seed) {
  uint64_t s = seed;
  uint64_t head = rng(&s);
  for (int i = 0; i < 4096; i += 64) {
    memcpy(p + i, &head, 8);
    uint32_t n = (uint32_t)i;
    memcpy(p + i + 8, &n, 4);
    memset(p + i + 12, ' ', 51);
    p[i + 63] = (unsigned char)rng(&s);
  }
}

static void random_page(unsigned char *p, uint64_t seed) {
  uint64_t s = seed;
  for (int i = 0; i < 4096; i += 8) { uint64_t r = rng(&s); memcpy(p + i, &r, 8); }
}

int main(int argc, char **argv) {
  if (argc != 8) { fprintf(stderr, "usage: pagemix SEED PAGES ZERO SAME SHARED WITHIN TEXT\n"); return 2; }
  uint64_t seed = strtoull(argv[1], 0, 10);
  long pages = atol(argv[2]);
  long zero = pages * atol(argv[3]) / 100, same = pages * atol(argv[4]) / 100;
  long shared = pages * atol(argv[5]) / 100, within = pages * atol(argv[6]) / 100 / 2 * 2;
  long text = pages * atol(argv[7]) / 100;
  unsigned char *m = mmap(NULL, (size_t)pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  madvise(m, (size_t)pages * 4096, MADV_NOHUGEPAGE);
  long i = 0, k;
  for (k = 0; k < zero; k++, i++) memset(m + i * 4096, 0, 4096);
  for (k = 0; k < same; k++, i++) {
    uint64_t w = 0x0101010101010101ULL * (uint64_t)(1 + k % 4);
    for (int b = 0; b < 4096; b += 8) memcpy(m + i * 4096 + b, &w, 8);
  }
  for (k = 0; k < shared; k++, i++) text_page(m + i * 4096, 0x5eed000000000000ULL + (uint64_t)k);
  for (k = 0; k < within; k++, i++) text_page(m + i * 4096, (seed << 32) ^ 0x77000000ULL ^ (uint64_t)(k / 2));
  for (k = 0; k < text; k++, i++) { // half prose-like text, half records
    uint64_t ps = (seed << 32) ^ 0x11000000ULL ^ (uint64_t)k;
    if (k & 1) record_page(m + i * 4096, ps); else text_page(m + i * 4096, ps);
  }
  for (; i < pages; i++) random_page(m + i * 4096, (seed << 32) ^ 0x22000000ULL ^ (uint64_t)i);
  printf("ready %ld\n", pages);
  fflush(stdout);
  for (;;) pause();
}
