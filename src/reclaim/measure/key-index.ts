// A hash table from integer keys below 2^53 (content keys, page frame
// numbers) to int32 values, in typed arrays: a JS Map of a million numbers
// costs more than the C scan of the pages they describe.

const EMPTY = -1;

export class KeyIndex {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(key: number): number {
    const lo = key >>> 0, hi = (key / 0x1_0000_0000) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1);
    h ^= h >>> 15;
    let i = h & this.mask;
    while (this.keys[i] !== EMPTY && this.keys[i] !== key) i = (i + 1) & this.mask;
    return i;
  }

  /** The value stored for key, or -1. */
  get(key: number): number {
    const i = this.slot(key);
    return this.keys[i] === EMPTY ? -1 : this.vals[i]!;
  }

  /** The value already stored for key; otherwise stores value and returns -1. key ≥ 0, value ≥ 0. */
  getOrSet(key: number, value: number): number {
    const i = this.slot(key);
    if (this.keys[i] !== EMPTY) return this.vals[i]!;
    this.keys[i] = key;
    this.vals[i] = value;
    if (++this.size * 2 > this.keys.length) this.grow();
    return -1;
  }

  private grow(): void {
    const { keys, vals } = this;
    this.keys = new Float64Array(keys.length * 2).fill(EMPTY);
    this.vals = new Int32Array(keys.length * 2);
    this.mask = this.keys.length - 1;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === EMPTY) continue;
      const i = this.slot(keys[j]!);
      this.keys[i] = keys[j]!;
      this.vals[i] = vals[j]!;
    }
  }
}
