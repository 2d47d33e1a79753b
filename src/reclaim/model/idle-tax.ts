// Share-based allocation with an idle-memory tax (Waldspurger, OSDI'02 §5):
// memory is revoked from the guest paying the least per page,
// ρ = S / (P·(f + k(1−f))), k = 1/(1−τ), f = active fraction. Revoking a
// page raises the guest's ρ, so the revocation is a water-filling: find the
// level λ at which every guest's ρ is ≥ λ and the pages given up sum to the
// need.

/** Shares per page of a guest holding `pages` pages of which a fraction `active` is in use. */
export function sharesPerPage(shares: number, pages: number, active: number, tau: number): number {
  const k = 1 / (1 - tau);
  return shares / (pages * (active + k * (1 - active)));
}

export interface Holder {
  shares: number;
  /** pages allocated now */
  pages: number;
  /** pages in use (the working set held) */
  active: number;
  /** allocation never goes below this */
  floor: number;
}

/** Pages to revoke from each holder to free `need` pages (fewer if floors bind). */
export function revokeByShares(holders: readonly Holder[], need: number, tau: number): number[] {
  const k = 1 / (1 - tau);
  const room = holders.map((h) => Math.max(0, h.pages - h.floor));
  const canFree = room.reduce((a, b) => a + b, 0);
  const want = Math.min(Math.max(0, Math.floor(need)), canFree);
  if (want === 0) return holders.map(() => 0);
  // the allocation at which a holder's ρ equals λ: P·(f + k(1−f)) = A + k(P − A) = S/λ
  const allocAt = (h: Holder, lambda: number): number => {
    const budget = h.shares / lambda;
    const a = Math.min(h.active, h.pages);
    const p = budget <= a ? budget : a + (budget - a) / k;
    return Math.max(h.floor, Math.min(h.pages, p));
  };
  const freedAt = (lambda: number): number => holders.reduce((s, h) => s + h.pages - allocAt(h, lambda), 0);
  let lo = 1e-300;
  let hi = 1;
  while (freedAt(hi) < want && hi < 1e300) hi *= 16;
  for (let i = 0; i < 200 && hi / lo > 1 + 1e-12; i++) {
    const mid = Math.sqrt(lo * hi);
    if (freedAt(mid) < want) lo = mid;
    else hi = mid;
  }
  const exact = holders.map((h) => h.pages - allocAt(h, hi));
  return apportionExact(want, exact, room);
}

// whole pages from real quotas: floors, then the largest remainders
function apportionExact(total: number, quotas: readonly number[], caps: readonly number[]): number[] {
  const out = quotas.map((q, i) => Math.min(caps[i]!, Math.floor(q + 1e-9)));
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, i) => ({ i, frac: q - Math.floor(q + 1e-9) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  while (left > 0) {
    let moved = false;
    for (const { i } of order) {
      if (left === 0) break;
      if (out[i]! < caps[i]!) {
        out[i]! += 1;
        left -= 1;
        moved = true;
      }
    }
    if (!moved) break;
  }
  while (left < 0) {
    const i = out.indexOf(Math.max(...out));
    out[i]! -= 1;
    left += 1;
  }
  return out;
}
