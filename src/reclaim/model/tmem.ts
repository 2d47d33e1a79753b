// Transcendent memory: host RAM the guests reach only by page copies. The
// ephemeral pool holds clean cache a guest dropped (a put may be dropped, a
// get may miss); the persistent pool holds pages a guest swapped (a put may be
// refused, a stored page always comes back). Both are shared by all guests and
// live in the host memory left over above the free-memory target.

export interface TmemPool {
  kind: "ephemeral" | "persistent";
  /** pages held, per guest */
  pages: number[];
}

export function newPool(kind: TmemPool["kind"], guests: number): TmemPool {
  return { kind, pages: new Array<number>(guests).fill(0) };
}

export const poolSize = (p: TmemPool): number => p.pages.reduce((a, b) => a + b, 0);

/** put: stores up to `n` pages for a guest while the pool is under `capacity`; returns the pages accepted (the rest are dropped or refused). */
export function put(p: TmemPool, guest: number, n: number, capacity: number): number {
  const ok = Math.max(0, Math.min(n, capacity - poolSize(p)));
  p.pages[guest]! += ok;
  return ok;
}

/** flush: the guest no longer needs `n` of its pages there (it re-read them, or freed them). */
export function flush(p: TmemPool, guest: number, n: number): void {
  p.pages[guest] = Math.max(0, p.pages[guest]! - n);
}

/** The host takes memory back: ephemeral pages are dropped until the pool fits `capacity`, largest holders first. */
export function shrinkTo(p: TmemPool, capacity: number): void {
  if (p.kind === "persistent") return; // a persistent page must come back: never dropped
  let over = poolSize(p) - Math.max(0, capacity);
  while (over > 0) {
    let big = 0;
    for (let i = 1; i < p.pages.length; i++) if (p.pages[i]! > p.pages[big]!) big = i;
    const cut = Math.min(over, Math.max(1, Math.ceil(over / p.pages.length)), p.pages[big]!);
    p.pages[big]! -= cut;
    over -= cut;
  }
}

/** get: of `wanted` pages a guest asks back out of the `outstanding` it put, how many hit (the pool holds a share of them). */
export function get(p: TmemPool, guest: number, wanted: number, outstanding: number): number {
  if (outstanding <= 0) return 0;
  return Math.floor((wanted * Math.min(p.pages[guest]!, outstanding)) / outstanding);
}
