// Page scanner core for `tsbox mem scan` (src/native/scan.ts).
// Per 4 KiB page: zero / same-filled test, a 64-bit content hash (XXH64,
// seed 0), its size compressed on its own in the LZ4 block format (our own
// greedy LZ4 compressor) and a deflate-class size estimate (the LZ4 parse's
// literals, lengths and distances costed by order-0 entropy, as deflate's
// Huffman stage would code them). JS reads /proc/PID/maps and pagemap, picks
// the pages and merges hashes across containers; only the per-page work is
// here, because from JS it would be two orders of magnitude slower.
//
// Data exchange without copies: one arena (tsbox_scan_arena) that JS wraps
// with ffi-rs createExternalBuffer, as arrays JS can copy in bulk:
//   [0, 8·cap)          f64 page addresses (input, ascending within a call)
//   [8·cap, 16·cap)     f64 content key: 52 bits of the XXH64 hash, exact in a
//                       double (output; for zero/same pages the fill word's low bits)
//   [16·cap, 18·cap)    u16 LZ4 size, capped at 4096 (= did not compress); 0 = not measured
//   [18·cap, 20·cap)    u16 deflate-class estimate, same conventions
//   [20·cap, 21·cap)    u8 kind (enum kind)
//   [21·cap, 22·cap)    u8 per page (input): 0 = do not compress it, 1 = do,
//                       2 = only if its hash is in the size sample (1 in SIZE_SAMPLE
//                       contents: a uniform sample, and copies go with their content)
//   [22·cap, 24·cap)    u16 size under the zram device's compressor (tsbox_scan_codec:
//                       LZ4 by default, or Linux's LZO1X-1 / LZO-RLE), same conventions
//   [24·cap, +SCRATCH)  scratch for tests: 8 KiB in, 8 KiB out
// The arena and the compressed-size cache are process-global: one scan at a
// time, on the main thread.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define PAGE 4096
#define SCRATCH (16 * 1024)
#define RUN_MAX 64 /* pages read by one call */
#define SIZE_SAMPLE 8 /* want = 2: compress contents whose hash ≡ 0 mod 8 */

enum kind { K_DATA = 0, K_ZERO = 1, K_SAME = 2, K_GONE = 3 };

struct result {
  uint64_t hash;
  uint16_t lz4;    /* compressed size, capped at PAGE (= did not compress); 0 = not measured */
  uint16_t strong; /* deflate-class estimate, capped at PAGE */
  uint16_t dev;    /* size under the zram codec (codec below), capped at PAGE */
  uint8_t kind;
};

static unsigned char *arena;
static int arena_cap;

/* the zram device's compressor the `dev` sizes follow (tsbox_scan_codec) */
enum codec { C_LZ4 = 0, C_LZO = 1, C_LZO_RLE = 2 };
static int dev_codec = C_LZ4;

/* ---------- XXH64 (Collet's reference algorithm) ---------- */
#define P64_1 11400714785074694791ULL
#define P64_2 14029467366897019727ULL
#define P64_3 1609587929392839161ULL
#define P64_4 9650029242287828579ULL
#define P64_5 2870177450012600261ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t xround(uint64_t acc, uint64_t in) { acc += in * P64_2; acc = rotl64(acc, 31); return acc * P64_1; }
static inline uint64_t xmerge(uint64_t acc, uint64_t v) { acc ^= xround(0, v); return acc * P64_1 + P64_4; }

static uint64_t xxh64(const unsigned char *p, size_t len, uint64_t seed) {
  const unsigned char *end = p + len;
  uint64_t h;
  if (len >= 32) {
    const unsigned char *limit = end - 32;
    uint64_t v1 = seed + P64_1 + P64_2, v2 = seed + P64_2, v3 = seed, v4 = seed - P64_1;
    do {
      v1 = xround(v1, rd64(p)); v2 = xround(v2, rd64(p + 8));
      v3 = xround(v3, rd64(p + 16)); v4 = xround(v4, rd64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = xmerge(h, v1); h = xmerge(h, v2); h = xmerge(h, v3); h = xmerge(h, v4);
  } else {
    h = seed + P64_5;
  }
  h += (uint64_t)len;
  while (p + 8 <= end) { h ^= xround(0, rd64(p)); h = rotl64(h, 27) * P64_1 + P64_4; p += 8; }
  if (p + 4 <= end) { h ^= (uint64_t)rd32(p) * P64_1; h = rotl64(h, 23) * P64_2 + P64_3; p += 4; }
  while (p < end) { h ^= (*p) * P64_5; h = rotl64(h, 11) * P64_1; p++; }
  h ^= h >> 33; h *= P64_2; h ^= h >> 29; h *= P64_3; h ^= h >> 32;
  return h;
}

/* ---------- zero / same-filled ---------- */
static int page_kind(const unsigned char *p) {
  uint64_t w0 = rd64(p), diff = 0;
  for (int i = 8; i < PAGE; i += 32) {
    diff |= (rd64(p + i) ^ w0) | (rd64(p + i + 8) ^ w0) | (rd64(p + i + 16) ^ w0);
    if (i + 24 < PAGE) diff |= rd64(p + i + 24) ^ w0;
    if (diff) return K_DATA;
  }
  return w0 == 0 ? K_ZERO : K_SAME;
}

/* ---------- deflate-class cost model ---------- */
// deflate's length codes 257..285 and distance codes 0..29, with extra bits
static uint8_t len_code[259], len_extra[259];
static uint8_t dist_extra_of_code[30];
static float nlog2n[PAGE + 2]; /* n·log2(n) */
static int tables_ready;

static double ln_approx(double x) { /* x > 0; ln(m·2^e) = e·ln2 + 2·atanh((m−1)/(m+1)) */
  int e = 0;
  while (x >= 2) { x /= 2; e++; }
  while (x < 1) { x *= 2; e--; }
  double y = (x - 1) / (x + 1), y2 = y * y, s = 0, t = y;
  for (int k = 1; k < 40; k += 2) { s += t / k; t *= y2; }
  return e * 0.6931471805599453 + 2 * s;
}

static void init_tables(void) {
  if (tables_ready) return;
  static const uint16_t base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const uint8_t extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  for (int c = 0; c < 29; c++) {
    int hi = c == 28 ? 258 : (c == 27 ? 257 : base[c + 1] - 1);
    for (int l = base[c]; l <= hi; l++) { len_code[l] = (uint8_t)c; len_extra[l] = extra[c]; }
  }
  for (int c = 0; c < 30; c++) dist_extra_of_code[c] = c < 4 ? 0 : (uint8_t)(c / 2 - 1);
  nlog2n[0] = 0;
  for (int n = 1; n <= PAGE + 1; n++) nlog2n[n] = (float)(n * ln_approx(n) / 0.6931471805599453);
  tables_ready = 1;
}

static inline int dist_code(unsigned d) { /* d ≥ 1 */
  if (d <= 4) return (int)d - 1;
  unsigned v = d - 1;
  int hb = 31 - __builtin_clz(v);
  return 2 * hb + (int)((v >> (hb - 1)) & 1);
}

struct parse_stats {
  uint16_t lit[256];
  uint16_t len[29];
  uint16_t dist[30];
  uint32_t extra_bits;
  uint32_t matches;
};

static void note_match(struct parse_stats *st, unsigned len, unsigned dist) {
  int dc = dist_code(dist);
  while (len > 0) { /* deflate matches are 3..258 bytes: split longer LZ4 matches */
    unsigned l = len > 258 ? 258 : len;
    if (len > 258 && len - 258 < 3) l = len - 3;
    st->len[len_code[l]]++;
    st->dist[dc]++;
    st->extra_bits += len_extra[l] + dist_extra_of_code[dc];
    st->matches++;
    len -= l;
  }
}

/* bits to code `counts` with an ideal prefix code (order-0 entropy) */
static double entropy_bits(const uint16_t *counts, int n, unsigned *used) {
  unsigned total = 0, u = 0;
  double s = 0;
  for (int i = 0; i < n; i++) if (counts[i]) { total += counts[i]; s += nlog2n[counts[i]]; u++; }
  *used = u;
  return total ? nlog2n[total] - s : 0;
}

// Size of one dynamic-Huffman deflate block for the parse: entropy of the
// lit/len alphabet (256 literals, end-of-block, 29 length codes) and of the
// distance codes, extra bits, and the header (3-bit block header, 14 bits of
// counts, the code-length code, ~4.5 bits per used symbol). Against zlib
// level 6 per page it is within a few % on structured data and 5–15 % high
// on text, whose 3-byte matches a 4-byte-minimum greedy parse misses
// (test/reclaim.measure.native.test.ts).
static unsigned deflate_estimate(const struct parse_stats *st) {
  uint16_t litlen[286];
  memcpy(litlen, st->lit, sizeof st->lit);
  litlen[256] = 1;
  memcpy(litlen + 257, st->len, sizeof st->len);
  unsigned u1, u2;
  double bits = entropy_bits(litlen, 286, &u1) + entropy_bits(st->dist, 30, &u2);
  bits += st->extra_bits + 3 + 14 + 57 + 4.5 * (u1 + u2);
  unsigned bytes = (unsigned)(bits / 8 + 1);
  return bytes >= PAGE ? PAGE : bytes; /* a stored block would be 4101 bytes: incompressible */
}

/* ---------- LZ4 block format, greedy, one 4 KiB page at a time ---------- */
#define HASH_LOG 13 /* the kernel's byU16 table for inputs < 64 KiB: LZ4_HASHLOG + 1 */
#define MINMATCH 4
#define LASTLITERALS 5
#define MFLIMIT 12
static uint16_t htab[1 << HASH_LOG];

static inline unsigned lz4_hash(uint32_t v) { return (v * 2654435761U) >> (32 - HASH_LOG); }

static unsigned char *put_len(unsigned char *op, unsigned len) {
  while (len >= 255) { *op++ = 255; len -= 255; }
  *op++ = (unsigned char)len;
  return op;
}

// Compresses src[0..n) (n ≤ 65535) into dst (room for n + n/255 + 16 bytes);
// returns the block size. With st, records the parse for the deflate estimate.
static unsigned lz4_compress(const unsigned char *src, unsigned n, unsigned char *dst, struct parse_stats *st) {
  const unsigned char *ip = src, *anchor = src, *const iend = src + n;
  const unsigned char *const mflimit = iend - MFLIMIT, *const matchlimit = iend - LASTLITERALS;
  unsigned char *op = dst;
  if (n < MFLIMIT + 1) goto last_literals;
  memset(htab, 0, sizeof htab);
  htab[lz4_hash(rd32(ip))] = 0;
  ip++;
  for (;;) {
    const unsigned char *match;
    unsigned char *token;
    { /* find a match, skipping faster through incompressible data (LZ4's acceleration) */
      const unsigned char *fwd = ip;
      unsigned step = 1, attempts = 1u << 6;
      do {
        ip = fwd;
        fwd += step;
        step = attempts++ >> 6;
        if (fwd > mflimit) goto last_literals;
        unsigned h = lz4_hash(rd32(ip));
        match = src + htab[h];
        htab[h] = (uint16_t)(ip - src);
      } while (match >= ip || rd32(match) != rd32(ip));
    }
    while (ip > anchor && match > src && ip[-1] == match[-1]) { ip--; match--; }
    {
      unsigned lit = (unsigned)(ip - anchor);
      token = op++;
      if (lit >= 15) { *token = 15 << 4; op = put_len(op, lit - 15); }
      else *token = (unsigned char)(lit << 4);
      memcpy(op, anchor, lit);
      op += lit;
      if (st) for (const unsigned char *p = anchor; p < ip; p++) st->lit[*p]++;
    }
  next_match: {
      unsigned off = (unsigned)(ip - match);
      *op++ = (unsigned char)off;
      *op++ = (unsigned char)(off >> 8);
      const unsigned char *start = ip;
      ip += MINMATCH;
      match += MINMATCH;
      while (ip + 8 <= matchlimit) {
        uint64_t x = rd64(ip) ^ rd64(match);
        if (x) { ip += __builtin_ctzll(x) >> 3; goto counted; }
        ip += 8; match += 8;
      }
      while (ip < matchlimit && *ip == *match) { ip++; match++; }
    counted: {
        unsigned ml = (unsigned)(ip - start) - MINMATCH;
        if (ml >= 15) { *token += 15; op = put_len(op, ml - 15); }
        else *token += (unsigned char)ml;
        if (st) note_match(st, ml + MINMATCH, off);
      }
    }
    anchor = ip;
    if (ip > mflimit) break;
    htab[lz4_hash(rd32(ip - 2))] = (uint16_t)(ip - 2 - src);
    {
      unsigned h = lz4_hash(rd32(ip));
      match = src + htab[h];
      htab[h] = (uint16_t)(ip - src);
      if (match < ip && rd32(match) == rd32(ip)) { token = op++; *token = 0; goto next_match; }
    }
    ip++;
  }
last_literals: {
    unsigned lit = (unsigned)(iend - anchor);
    if (lit >= 15) { *op++ = 15 << 4; op = put_len(op, lit - 15); }
    else *op++ = (unsigned char)(lit << 4);
    memcpy(op, anchor, lit);
    op += lit;
    if (st) for (const unsigned char *p = anchor; p < iend; p++) st->lit[*p]++;
  }
  return (unsigned)(op - dst);
}

// Decodes an LZ4 block; returns the decoded size or -1 if malformed.
static int lz4_decompress(const unsigned char *src, unsigned n, unsigned char *dst, unsigned cap) {
  const unsigned char *ip = src, *const iend = src + n;
  unsigned char *op = dst, *const oend = dst + cap;
  while (ip < iend) {
    unsigned token = *ip++, lit = token >> 4;
    if (lit == 15) { unsigned b; do { if (ip >= iend) return -1; b = *ip++; lit += b; } while (b == 255); }
    if (lit > (unsigned)(iend - ip) || lit > (unsigned)(oend - op)) return -1;
    memcpy(op, ip, lit);
    op += lit; ip += lit;
    if (ip == iend) break; /* the last sequence has literals only */
    if (iend - ip < 2) return -1;
    unsigned off = ip[0] | (ip[1] << 8);
    ip += 2;
    if (off == 0 || off > (unsigned)(op - dst)) return -1;
    unsigned ml = (token & 15);
    if (ml == 15) { unsigned b; do { if (ip >= iend) return -1; b = *ip++; ml += b; } while (b == 255); }
    ml += MINMATCH;
    if (ml > (unsigned)(oend - op)) return -1;
    const unsigned char *m = op - off;
    if (off >= 8) {
      unsigned i = 0;
      for (; i + 8 <= ml; i += 8) memcpy(op + i, m + i, 8);
      for (; i < ml; i++) op[i] = m[i];
    } else {
      for (unsigned i = 0; i < ml; i++) op[i] = m[i];
    }
    op += ml;
  }
  return (int)(op - dst);
}

/* ---------- LZO1X-1 as Linux compresses it (lib/lzo), with LZO-RLE's zero runs ---------- */
// zram's default compressor on most distributions is lzo-rle: LZO1X-1 whose
// bitstream version 1 codes a run of ≥ 4 zero bytes as one 4-byte
// instruction. Sizes must be the kernel's to the byte (zram's
// compr_data_size is their sum), so this follows the kernel's parse exactly:
// its 13-bit dictionary of 16-bit positions and multiplicative hash, the
// skip that grows by one every 32 literals, and on x86-64 the match
// extension 8 bytes at a time (which stops early near the end of the input).
#define LZO_DBITS 13
#define LZO_M2_MAX_LEN 8
#define LZO_M2_MAX_OFFSET 0x0800
#define LZO_M3_MAX_LEN 33
#define LZO_M3_MAX_OFFSET 0x4000
#define LZO_M4_MAX_LEN 9
#define LZO_M3_MARKER 32
#define LZO_M4_MARKER 16
#define LZO_ZRUN_MIN 4
#define LZO_ZRUN_MAX (2047 + LZO_ZRUN_MIN)
static uint16_t lzo_dict[1 << LZO_DBITS];

static inline uint32_t rd32le(const unsigned char *p) { return rd32(p); } /* little-endian hosts only, as the rest */

/* Literal run [ii, ii+t): a short one (≤ 3) goes into the low bits of the previous instruction's byte at op[state]. */
static unsigned char *lzo_literals(unsigned char *op, const unsigned char *ii, size_t t, int state) {
  if (t == 0) return op;
  if (t <= 3) op[state] |= (unsigned char)t;
  else if (t <= 18) *op++ = (unsigned char)(t - 3);
  else {
    size_t tt = t - 18;
    *op++ = 0;
    while (tt > 255) { tt -= 255; *op++ = 0; }
    *op++ = (unsigned char)tt;
  }
  memcpy(op, ii, t);
  return op + t;
}

/* A length beyond what the instruction byte holds: zero bytes of 255 each, then the rest. */
static unsigned char *lzo_long_len(unsigned char *op, size_t len) {
  while (len > 255) { len -= 255; *op++ = 0; }
  *op++ = (unsigned char)len;
  return op;
}

// Compresses in[0..n) (20 < n ≤ 0xbfff) into out (room for n + n/16 + 64 + 3);
// returns the block size. rle: LZO-RLE (bitstream version 1, a 2-byte header).
static unsigned lzo_compress(const unsigned char *in, unsigned n, unsigned char *out, int rle) {
  const unsigned char *const in_end = in + n, *const ip_end = in + n - 20;
  const unsigned char *ip = in + 4, *ii = in;
  unsigned char *op = out;
  int state = -2;
  if (rle) { *op++ = 17; *op++ = 1; }
  unsigned char *const data_start = op;
  memset(lzo_dict, 0, sizeof lzo_dict);
  int skip = 1; /* the first position tried is the kernel's too: 4 + 1 */
  for (;;) {
    if (skip) ip += 1 + ((ip - ii) >> 5);
    skip = 1;
    if (ip >= ip_end) break;
    const unsigned char *m_pos = NULL;
    size_t run = 0;
    uint32_t dv = rd32le(ip);
    if (dv == 0 && rle) {
      const unsigned char *ir = ip + 4;
      const unsigned char *limit = ip_end < ip + LZO_ZRUN_MAX + 1 ? ip_end : ip + LZO_ZRUN_MAX + 1;
      while (ir < limit && *ir == 0) ir++;
      run = (size_t)(ir - ip);
      if (run > LZO_ZRUN_MAX) run = LZO_ZRUN_MAX;
    } else {
      uint32_t h = ((dv * 0x1824429dU) >> (32 - LZO_DBITS)) & ((1u << LZO_DBITS) - 1);
      m_pos = in + lzo_dict[h];
      lzo_dict[h] = (uint16_t)(ip - in);
      if (dv != rd32le(m_pos)) continue; /* a literal: skip ahead */
    }
    op = lzo_literals(op, ii, (size_t)(ip - ii), state);
    if (run) {
      ip += run;
      uint32_t r = (uint32_t)(run - LZO_ZRUN_MIN);
      uint32_t ins = (r << 21) | 0xfffc18u | (r & 7);
      memcpy(op, &ins, 4);
      op += 4;
      state = -3;
      ii = ip;
      skip = 0;
      continue;
    }
    size_t m_len = 4;
    {
      uint64_t v = rd64(ip + m_len) ^ rd64(m_pos + m_len);
      int stopped = 0;
      if (v == 0) {
        do {
          m_len += 8;
          v = rd64(ip + m_len) ^ rd64(m_pos + m_len);
          if (ip + m_len >= ip_end) { stopped = 1; break; }
        } while (v == 0);
      }
      if (!stopped) m_len += (size_t)__builtin_ctzll(v) / 8;
    }
    size_t m_off = (size_t)(ip - m_pos);
    ip += m_len;
    if (m_len <= LZO_M2_MAX_LEN && m_off <= LZO_M2_MAX_OFFSET) {
      m_off -= 1;
      *op++ = (unsigned char)(((m_len - 1) << 5) | ((m_off & 7) << 2));
      *op++ = (unsigned char)(m_off >> 3);
    } else if (m_off <= LZO_M3_MAX_OFFSET) {
      m_off -= 1;
      if (m_len <= LZO_M3_MAX_LEN) *op++ = (unsigned char)(LZO_M3_MARKER | (m_len - 2));
      else { *op++ = LZO_M3_MARKER; op = lzo_long_len(op, m_len - LZO_M3_MAX_LEN); }
      *op++ = (unsigned char)(m_off << 2);
      *op++ = (unsigned char)(m_off >> 6);
    } else {
      m_off -= 0x4000;
      unsigned char hi = (unsigned char)(LZO_M4_MARKER | ((m_off >> 11) & 8));
      if (m_len <= LZO_M4_MAX_LEN) *op++ = (unsigned char)(hi | (m_len - 2));
      else { *op++ = hi; op = lzo_long_len(op, m_len - LZO_M4_MAX_LEN); }
      *op++ = (unsigned char)(m_off << 2);
      *op++ = (unsigned char)(m_off >> 6);
    }
    state = -2;
    ii = ip;
    skip = 0;
  }
  /* the literals left, the end marker */
  size_t t = (size_t)(in_end - ii);
  if (t > 0) {
    if (op == data_start && t <= 238) { *op++ = (unsigned char)(17 + t); memcpy(op, ii, t); op += t; }
    else op = lzo_literals(op, ii, t, state);
  }
  *op++ = LZO_M4_MARKER | 1;
  *op++ = 0;
  *op++ = 0;
  return (unsigned)(op - out);
}

/* The size of a page under the zram codec, capped at PAGE. */
static unsigned dev_size(const unsigned char *page, unsigned lz4_size) {
  static unsigned char out[PAGE + PAGE / 16 + 64 + 3];
  if (dev_codec == C_LZ4) return lz4_size;
  unsigned c = lzo_compress(page, PAGE, out, dev_codec == C_LZO_RLE);
  return c >= PAGE ? PAGE : c;
}

/* ---------- compressed sizes cached by content hash ---------- */
// Duplicates have the sizes of their first copy: compress each content once.
struct size_entry { uint64_t hash; uint16_t lz4, strong, dev; uint32_t used; };
static struct size_entry *cache;
static size_t cache_cap, cache_used;

static struct size_entry *cache_slot(uint64_t h) {
  size_t mask = cache_cap - 1, i = (size_t)(h ^ (h >> 29)) & mask;
  while (cache[i].used && cache[i].hash != h) i = (i + 1) & mask;
  return &cache[i];
}

static int cache_grow(void) {
  size_t ncap = cache_cap ? cache_cap * 2 : (1u << 16);
  struct size_entry *old = cache;
  size_t ocap = cache_cap;
  struct size_entry *n = calloc(ncap, sizeof *n);
  if (!n) return -1;
  cache = n;
  cache_cap = ncap;
  for (size_t i = 0; i < ocap; i++) if (old[i].used) *cache_slot(old[i].hash) = old[i];
  free(old);
  return 0;
}

static void classify(const unsigned char *page, struct result *r, int want_sizes) {
  static unsigned char out[PAGE + PAGE / 255 + 16];
  r->kind = (uint8_t)page_kind(page);
  r->hash = 0;
  r->lz4 = r->strong = r->dev = 0;
  if (r->kind != K_DATA) { r->hash = rd64(page); return; }
  r->hash = xxh64(page, PAGE, 0);
  if (want_sizes == 0 || (want_sizes == 2 && (r->hash & (SIZE_SAMPLE - 1)) != 0)) return;
  if (cache_used * 2 >= cache_cap && cache_grow() != 0) cache_cap = 0; /* no cache: compress every page */
  struct size_entry *e = cache_cap ? cache_slot(r->hash) : NULL;
  if (e && e->used) { r->lz4 = e->lz4; r->strong = e->strong; r->dev = e->dev; return; }
  struct parse_stats st;
  memset(&st, 0, sizeof st);
  unsigned c = lz4_compress(page, PAGE, out, &st);
  r->lz4 = (uint16_t)(c >= PAGE ? PAGE : c);
  unsigned strong = deflate_estimate(&st);
  r->strong = (uint16_t)(strong < r->lz4 ? strong : r->lz4); /* a strong codec falls back to what LZ4 did */
  r->dev = (uint16_t)dev_size(page, r->lz4);
  if (e) { e->hash = r->hash; e->lz4 = r->lz4; e->strong = r->strong; e->dev = r->dev; e->used = 1; cache_used++; }
}

/* ---------- exported API ---------- */

/** The arena for `cap` pages (see the layout above); NULL if out of memory. */
EXPORT void *tsbox_scan_arena(int cap) {
  init_tables();
  if (cap <= 0) return NULL;
  if (cap > arena_cap) {
    free(arena);
    arena = calloc((size_t)cap * 24 + SCRATCH, 1);
    arena_cap = arena ? cap : 0;
  }
  return arena;
}

/** Forgets the compressed-size cache (a new scan). */
EXPORT void tsbox_scan_reset(void) {
  free(cache);
  cache = NULL;
  cache_cap = cache_used = 0;
}

/** The compressor the `dev` sizes follow from now on (enum codec); forgets the cache. -EINVAL for another. */
EXPORT int tsbox_scan_codec(int codec) {
  if (codec != C_LZ4 && codec != C_LZO && codec != C_LZO_RLE) return -EINVAL;
  dev_codec = codec;
  tsbox_scan_reset();
  return 0;
}

// Reads up to `run` pages at addrs[0..run) into buf: process_vm_readv from
// pid (one call for scattered pages; the kernel pins them 16 at a time,
// where /proc/PID/mem takes one page walk per page), or pread from fd when
// pid is 0 (a file, for tests). Returns how many leading pages were read.
static int read_run(int fd, int pid, const double *addrs, int run, unsigned char *buf) {
  if (pid > 0) {
    struct iovec local = {buf, (size_t)run * PAGE}, remote[RUN_MAX];
    for (int k = 0; k < run; k++) { remote[k].iov_base = (void *)(uintptr_t)addrs[k]; remote[k].iov_len = PAGE; }
    ssize_t got;
    do got = process_vm_readv(pid, &local, 1, remote, (unsigned long)run, 0); while (got < 0 && errno == EINTR);
    return got < 0 ? 0 : (int)(got / PAGE);
  }
  int k = 0;
  while (k < run) { /* contiguous addresses in one pread */
    int len = 1;
    while (k + len < run && addrs[k + len] == addrs[k] + (double)len * PAGE) len++;
    ssize_t got;
    do got = pread(fd, buf + (size_t)k * PAGE, (size_t)len * PAGE, (off_t)addrs[k]); while (got < 0 && errno == EINTR);
    int pages = got < 0 ? 0 : (int)(got / PAGE);
    k += pages;
    if (pages < len) break;
  }
  return k;
}

/**
 * Reads and classifies n pages at the arena's addresses, from process pid
 * (process_vm_readv) or, with pid 0, from fd (any file, for tests). A page
 * that cannot be read (unmapped meanwhile: EFAULT; the process exited:
 * ESRCH) is K_GONE. Returns n, or -errno for a bad call.
 */
EXPORT int tsbox_scan_pages(int fd, int pid, int n) {
  static unsigned char *buf;
  if (!arena || n < 0 || n > arena_cap) return -EINVAL;
  if (!buf && !(buf = aligned_alloc(PAGE, (size_t)PAGE * RUN_MAX))) return -ENOMEM;
  const double *addrs = (const double *)arena;
  double *keys = (double *)(arena + 8 * (size_t)arena_cap);
  uint16_t *lz4 = (uint16_t *)(arena + 16 * (size_t)arena_cap);
  uint16_t *strong = (uint16_t *)(arena + 18 * (size_t)arena_cap);
  uint8_t *kinds = arena + 20 * (size_t)arena_cap;
  const uint8_t *want = arena + 21 * (size_t)arena_cap;
  uint16_t *dev = (uint16_t *)(arena + 22 * (size_t)arena_cap);
  struct result r;
  int i = 0;
  while (i < n) {
    int run = n - i < RUN_MAX ? n - i : RUN_MAX;
    int got = read_run(fd, pid, addrs + i, run, buf);
    if (got == 0) { keys[i] = 0; lz4[i] = strong[i] = dev[i] = 0; kinds[i] = K_GONE; i++; continue; } /* the first page is bad: skip it */
    for (int k = 0; k < got; k++) {
      classify(buf + (size_t)k * PAGE, &r, want[i + k]);
      keys[i + k] = (double)(r.hash & ((1ULL << 52) - 1));
      lz4[i + k] = r.lz4;
      strong[i + k] = r.strong;
      dev[i + k] = r.dev;
      kinds[i + k] = r.kind;
    }
    i += got;
  }
  return n;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/**
 * Median time (ns) to decompress one page with our LZ4 decoder, over n pages
 * read from fd at the arena's addresses (each decoded `reps` times, its
 * fastest kept). Pages that cannot be read or do not compress are skipped.
 * Returns the median, 0 if no page qualified.
 */
EXPORT double tsbox_scan_lz4_decompress_ns(int fd, int n, int reps) {
  static unsigned char page[PAGE], comp[PAGE + PAGE / 255 + 16], back[PAGE];
  if (!arena || n < 0 || n > arena_cap || reps < 1) return 0;
  const double *addrs = (const double *)arena;
  uint64_t *times = malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
  if (!times) return 0;
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (pread(fd, page, PAGE, (off_t)addrs[i]) != PAGE) continue;
    unsigned c = lz4_compress(page, PAGE, comp, NULL);
    if (c >= PAGE) continue;
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < reps; r++) {
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      int d = lz4_decompress(comp, c, back, PAGE);
      clock_gettime(CLOCK_MONOTONIC, &b);
      if (d != PAGE) { best = UINT64_MAX; break; }
      uint64_t t = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)(b.tv_nsec - a.tv_nsec);
      if (t < best) best = t;
    }
    if (best != UINT64_MAX) times[m++] = best;
  }
  double med = 0;
  if (m) {
    qsort(times, (size_t)m, sizeof times[0], cmp_u64);
    med = m % 2 ? (double)times[m / 2] : (times[m / 2 - 1] + times[m / 2]) / 2.0;
  }
  free(times);
  return med;
}

/* For tests: the codecs on the arena's scratch (8 KiB in at +0, 8 KiB out at +8 KiB). */
static unsigned char *scratch(void) { return arena + 24 * (size_t)arena_cap; }

EXPORT int tsbox_scan_test_lz4(int len) {
  if (!arena || len < 0 || len > 7 * 1024) return -EINVAL;
  return (int)lz4_compress(scratch(), (unsigned)len, scratch() + 8192, NULL);
}

EXPORT int tsbox_scan_test_unlz4(int clen, int cap) {
  static unsigned char tmp[8192];
  if (!arena || clen < 0 || clen > 8192 || cap < 0 || cap > 8192) return -EINVAL;
  int d = lz4_decompress(scratch() + 8192, (unsigned)clen, tmp, (unsigned)cap);
  if (d >= 0) memcpy(scratch(), tmp, (size_t)d);
  return d;
}

/** XXH64 (seed 0) of the scratch's first len bytes, written to scratch+8192 (8 bytes, LE). */
EXPORT int tsbox_scan_test_xxh64(int len) {
  if (!arena || len < 0 || len > 8192) return -EINVAL;
  uint64_t h = xxh64(scratch(), (size_t)len, 0);
  memcpy(scratch() + 8192, &h, 8);
  return 0;
}

/** Linux's LZO1X-1 (rle 0) or LZO-RLE (rle 1) on the scratch's first len bytes (20 < len ≤ 7 KiB), out at +8 KiB; the block size. */
EXPORT int tsbox_scan_test_lzo(int len, int rle) {
  if (!arena || len <= 20 || len > 7 * 1024) return -EINVAL;
  return (int)lzo_compress(scratch(), (unsigned)len, scratch() + 8192, rle != 0);
}
