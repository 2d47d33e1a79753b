// Transparent page sharing: identical pages kept once. Zero pages and a
// guest's internal duplicates are shared within it; pages of one content group
// (same OS image) are shared across its guests, the guest holding the most
// copies keeping the originals. Writes break a fraction of the sharing every
// step, each break a copy-on-write fault; the scanner re-merges them.

export interface SharingInput {
  contentGroup: string;
  /** zero + within-guest duplicates still in guest memory */
  within: number;
  /** pages of the group's common content still in guest memory */
  across: number;
}

export interface SharingResult {
  /** host pages saved, per guest */
  saved: number[];
  /** copy-on-write faults this step, per guest */
  breaks: number[];
}

export function sharePages(guests: readonly SharingInput[], writeBreakRate: number): SharingResult {
  const keep = 1 - writeBreakRate;
  const within = guests.map((g) => Math.floor(g.within * keep));
  const across = guests.map((g) => Math.floor(g.across * keep));
  const breaks = guests.map((g, i) => g.within - within[i]! + g.across - across[i]!);
  // in each group, the guest with the most common pages (first on ties) holds the originals
  const owner = new Map<string, number>();
  guests.forEach((g, i) => {
    const o = owner.get(g.contentGroup);
    if (o === undefined || across[i]! > across[o]!) owner.set(g.contentGroup, i);
  });
  const saved = guests.map((g, i) => within[i]! + (owner.get(g.contentGroup) === i ? 0 : across[i]!));
  return { saved, breaks };
}
