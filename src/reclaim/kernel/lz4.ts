// LZ4 block compression, the kernel's variant (lib/lz4/lz4_compress.c,
// LZ4_compress_fast with acceleration 1 on inputs < 64 KiB: a 13-bit hash
// table of 16-bit positions). Only the compressed *size* matters here: zram
// stores each 4 KiB page compressed on its own, so the sum of these sizes
// predicts mm_stat's compr_data_size. Pure.

const MINMATCH = 4;
const MFLIMIT = 12;
const LASTLITERALS = 5;
const MIN_LENGTH = MFLIMIT + 1;
const HASH_SHIFT = MINMATCH * 8 - 13;
const SKIP_TRIGGER = 6;

const read32 = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
const hash = (b: Uint8Array, i: number): number => Math.imul(read32(b, i), 2654435761 | 0) >>> HASH_SHIFT;

const lenBytes = (n: number): number => (n >= 15 ? 1 + Math.floor((n - 15) / 255) : 0);

/** Size in bytes of the LZ4 block for `src` (no frame header). */
export function lz4CompressedSize(src: Uint8Array): number {
  const iend = src.length;
  let out = 0;
  let anchor = 0;
  const lastLiterals = (): number => {
    const run = iend - anchor;
    return out + 1 + lenBytes(run) + run;
  };
  if (iend < MIN_LENGTH) return lastLiterals();
  const mflimit = iend - MFLIMIT;
  const matchlimit = iend - LASTLITERALS;
  const table = new Uint16Array(1 << 13);
  let ip = 0;
  table[hash(src, ip)] = ip;
  ip++;
  let forwardH = hash(src, ip);
  for (;;) {
    let match: number;
    let forwardIp = ip;
    let step = 1;
    let searchMatchNb = 1 << SKIP_TRIGGER;
    do {
      const h = forwardH;
      ip = forwardIp;
      forwardIp += step;
      step = searchMatchNb++ >> SKIP_TRIGGER;
      if (forwardIp > mflimit) return lastLiterals();
      match = table[h]!;
      forwardH = hash(src, forwardIp);
      table[h] = ip;
    } while (read32(src, match) !== read32(src, ip));
    while (ip > anchor && match > 0 && src[ip - 1] === src[match - 1]) { ip--; match--; }
    const lit = ip - anchor;
    out += 1 + lenBytes(lit) + lit; // token, literal length, literals
    for (;;) {
      out += 2; // offset
      let p = ip + MINMATCH, q = match + MINMATCH;
      while (p < matchlimit && src[p] === src[q]) { p++; q++; }
      const matchCode = p - ip - MINMATCH;
      ip = p;
      out += lenBytes(matchCode);
      anchor = ip;
      if (ip > mflimit) return lastLiterals();
      table[hash(src, ip - 2)] = ip - 2;
      const h = hash(src, ip);
      match = table[h]!;
      table[h] = ip;
      if (read32(src, match) === read32(src, ip)) { out += 1; continue; } // token with no literals
      break;
    }
    forwardH = hash(src, ++ip);
  }
}
