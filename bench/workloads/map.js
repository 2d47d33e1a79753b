// node (Debian's nodejs) holding a Map of records; the same arguments and output as drive.py:
//   node [--expose-gc] map.js MIB SEED RATE WRITE [CACHE [PHASES]]
// PHASES PERIOD:LOW:OFFSET as in drive.py: the keys above LOW % live in a Map of their own, dropped
// whole in the low phases (then a full GC when --expose-gc, so V8 gives the pages back now rather
// than at its next major GC) and reloaded over about a second when the high phase returns.
const [mib, seed, rate, write] = process.argv.slice(2, 6).map(Number);
if (process.argv[6] && process.argv[6] !== "-") {
  // read once in 8 MiB chunks: idle clean page cache charged to this container
  const fs = require("node:fs");
  const fd = fs.openSync(process.argv[6], "r"), buf = Buffer.alloc(8 << 20);
  while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
  fs.closeSync(fd);
}
const WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa " +
  "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber basalt cobalt dune ember").split(" ");
let s = seed >>> 0 || 1;
const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
const pick = () => WORDS[Math.floor(rnd() * WORDS.length)];
const record = (i) => ({ id: i, name: `${pick()}-${Math.floor(rnd() * 1e6)}`, score: rnd(), tags: Array.from({ length: 8 }, pick).join(" "), n: Math.floor(rnd() * 2 ** 48).toString(16) });
const n = Math.max(1000, Math.floor(mib * 1024 * 1024 / 400));
const phases = process.argv[7] ? process.argv[7].split(":").map(Number) : undefined;
const base = phases ? Math.max(1, Math.floor(n * phases[1] / 100)) : n;
const m = new Map();
let x = new Map(); // the keys above base: the part that comes and goes
for (let i = 0; i < base; i++) m.set(`key:${i}`, record(i));
const loaded = () => base + x.size;
const high = () => !phases || Math.floor((Date.now() / 1000 + phases[2]) / phases[0]) % 2 === 0;
const chunk = Math.max(200, Math.floor((n - base) / 100));
const grow = (hi) => { for (let i = loaded(); i < hi; i++) x.set(`key:${i}`, record(i)); };
const mapOf = (i) => (i < base ? m : x);
if (phases && high()) grow(n);
console.log("ready", n);
if (rate > 0) {
  let done = 0, last = 0, due = 0, t0 = Date.now(), second = Math.floor(t0 / 1000), sink = 0;
  setInterval(() => {
    const now = Date.now();
    due = Math.min(due + rate * (now - t0) / 1000, rate); t0 = now;
    if (phases) {
      if (high()) { if (loaded() < n) grow(Math.min(n, loaded() + chunk)); }
      else if (x.size > 0) { x = new Map(); if (global.gc) global.gc(); }
    }
    const live = loaded();
    for (; due >= 1; due--, done++) {
      const i = Math.floor(rnd() * live);
      if (rnd() < write) mapOf(i).set(`key:${i}`, record(i)); else sink += mapOf(i).get(`key:${i}`).score;
    }
    if (Math.floor(now / 1000) !== second) { console.log("ops", done - last); last = done; second = Math.floor(now / 1000); }
  }, 10);
} else setInterval(() => {}, 1 << 30);
