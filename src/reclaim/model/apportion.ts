// Integer division of a page count among guests: in proportion to weights,
// never above each guest's cap, whole pages only, the same answer every time
// (largest remainder, ties to the lower index).

/** Splits `total` pages by `weights`, each share ≤ its cap; returns the shares (Σ ≤ total when caps bind). */
export function apportion(total: number, weights: readonly number[], caps: readonly number[]): number[] {
  const n = weights.length;
  const out = new Array<number>(n).fill(0);
  let left = Math.max(0, Math.floor(total));
  while (left > 0) {
    const open: number[] = [];
    let w = 0;
    for (let i = 0; i < n; i++) {
      if (weights[i]! > 0 && out[i]! < caps[i]!) {
        open.push(i);
        w += weights[i]!;
      }
    }
    if (open.length === 0) break;
    const rem: { i: number; frac: number }[] = [];
    let given = 0;
    for (const i of open) {
      const exact = (left * weights[i]!) / w;
      const room = caps[i]! - out[i]!;
      const whole = Math.min(room, Math.floor(exact));
      out[i]! += whole;
      given += whole;
      if (whole < room) rem.push({ i, frac: exact - Math.floor(exact) });
    }
    left -= given;
    if (given === 0) {
      // every quota was below one page: hand out single pages by largest remainder
      rem.sort((a, b) => b.frac - a.frac || a.i - b.i);
      for (const r of rem) {
        if (left === 0) break;
        out[r.i]! += 1;
        left -= 1;
      }
    }
  }
  return out;
}
