// zsmalloc, the allocator behind zram: what a set of compressed objects
// costs in whole pages (zram's mem_used_total). Objects go to size classes
// 16 bytes apart from 32 bytes up; each class packs its objects into
// "zspages" of 1..chainSize pages, the chain that wastes least; neighbouring
// classes with the same pages and objects per zspage are one class (the
// larger size). Each object carries its 8-byte handle. A page compressing
// to huge_class_size or more is stored whole (zram's huge pages). Follows
// mm/zsmalloc.c (zs_create_pool, calculate_zspage_chain_size, zs_malloc)
// of Linux 6.2 and later, CONFIG_ZSMALLOC_CHAIN_SIZE (8 by default).

import { PAGE_SIZE } from "../profile.js";

const MIN_ALLOC = 32;
const CLASS_DELTA = PAGE_SIZE >> 8;
const HANDLE = 8;
const CLASSES = Math.ceil((PAGE_SIZE - MIN_ALLOC) / CLASS_DELTA) + 1;

export interface SizeClass {
  /** object size of the class (the largest size merged into it) */
  size: number;
  pagesPerZspage: number;
  objsPerZspage: number;
}

export interface Zsmalloc {
  /** per class index (0..254): the class an allocation of that index lands in (merged classes share one) */
  byIndex: SizeClass[];
  /** zram stores a page whose compressed size is this or more whole (zs_huge_class_size) */
  hugeClassSize: number;
}

/** The chain (pages per zspage) that wastes least; a power-of-two size wastes nothing in one page. */
function chainFor(size: number, chainSize: number): number {
  if ((size & (size - 1)) === 0) return 1;
  let best = 1, least = Infinity;
  for (let i = 1; i <= chainSize; i++) {
    const waste = (i * PAGE_SIZE) % size;
    if (waste < least) { least = waste; best = i; }
  }
  return best;
}

const pools = new Map<number, Zsmalloc>();

/** The size classes of a pool (one per chain size: they do not change). */
export function zsmalloc(chainSize = 8): Zsmalloc {
  const known = pools.get(chainSize);
  if (known) return known;
  const byIndex = new Array<SizeClass>(CLASSES);
  let prev: SizeClass | undefined;
  let huge = 0;
  // from the largest down, as zs_create_pool: a class merges into the larger one above it
  for (let i = CLASSES - 1; i >= 0; i--) {
    const size = Math.min(PAGE_SIZE, MIN_ALLOC + i * CLASS_DELTA);
    const pagesPerZspage = chainFor(size, chainSize);
    const objsPerZspage = Math.floor((pagesPerZspage * PAGE_SIZE) / size);
    // the first class from the top that packs more than one object is the largest non-huge one;
    // an object grows by its handle before the class lookup, hence − (HANDLE − 1)
    if (huge === 0 && pagesPerZspage !== 1 && objsPerZspage !== 1) huge = size - (HANDLE - 1);
    if (prev && prev.pagesPerZspage === pagesPerZspage && prev.objsPerZspage === objsPerZspage) {
      byIndex[i] = prev;
      continue;
    }
    prev = { size, pagesPerZspage, objsPerZspage };
    byIndex[i] = prev;
  }
  const pool = { byIndex, hugeClassSize: huge };
  pools.set(chainSize, pool);
  return pool;
}

/** The class an object of `bytes` (as zram passes it: PAGE_SIZE for a huge page) is allocated in. */
export function classOf(pool: Zsmalloc, bytes: number): SizeClass {
  const size = bytes + HANDLE;
  const idx = size > MIN_ALLOC ? Math.min(CLASSES - 1, Math.ceil((size - MIN_ALLOC) / CLASS_DELTA)) : 0;
  return pool.byIndex[idx]!;
}

/**
 * Pages a fresh pool needs for objects of these sizes, allocated in any order
 * without frees: each class fills its zspages before it starts another. A pool
 * that has had objects freed (swap-ins) holds more until it is compacted.
 * `scale`: the sizes are a sample of the objects (each class's count is
 * multiplied by it before the zspages are counted).
 */
export function poolPages(pool: Zsmalloc, objectBytes: Iterable<number>, scale = 1): number {
  const count = new Map<SizeClass, number>();
  for (const b of objectBytes) {
    const c = classOf(pool, b);
    count.set(c, (count.get(c) ?? 0) + 1);
  }
  // scale: the sizes are a sample standing for `scale` times as many objects (each class's count scaled)
  let pages = 0;
  for (const [c, n] of count) pages += Math.ceil(Math.round(n * scale) / c.objsPerZspage) * c.pagesPerZspage;
  return pages;
}
