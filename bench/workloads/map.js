// node (Debian's nodejs) holding a Map of records; the same arguments and output as drive.py:
//   node map.js MIB SEED RATE WRITE [CACHE]
const [mib, seed, rate, write] = process.argv.slice(2, 6).map(Number);
if (process.argv[6]) {
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
const m = new Map();
for (let i = 0; i < n; i++) m.set(`key:${i}`, record(i));
console.log("ready", n);
if (rate > 0) {
  let done = 0, last = 0, due = 0, t0 = Date.now(), second = Math.floor(t0 / 1000), sink = 0;
  setInterval(() => {
    const now = Date.now();
    due = Math.min(due + rate * (now - t0) / 1000, rate); t0 = now;
    for (; due >= 1; due--, done++) {
      const i = Math.floor(rnd() * n);
      if (rnd() < write) m.set(`key:${i}`, record(i)); else sink += m.get(`key:${i}`).score;
    }
    if (Math.floor(now / 1000) !== second) { console.log("ops", done - last); last = done; second = Math.floor(now / 1000); }
  }, 10);
} else setInterval(() => {}, 1 << 30);
