// Docker's client lists names in natural order (fvbommel/sortorder NaturalLess):
// runs of digits compare by their value, "vol2" before "vol10".

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** A comparator for Array.prototype.sort: negative when a sorts first. */
export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const c1 = a.charCodeAt(i);
    const c2 = b.charCodeAt(j);
    const d1 = isDigit(c1);
    const d2 = isDigit(c2);
    if (d1 !== d2) return d1 ? -1 : 1; // digits before other characters
    if (!d1) {
      if (c1 !== c2) return c1 < c2 ? -1 : 1;
      i++;
      j++;
      continue;
    }
    while (i < a.length && a[i] === "0") i++;
    while (j < b.length && b[j] === "0") j++;
    const s1 = i;
    const s2 = j;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    if (i - s1 !== j - s2) return i - s1 - (j - s2); // the shorter number is the smaller
    const n1 = a.slice(s1, i);
    const n2 = b.slice(s2, j);
    if (n1 !== n2) return n1 < n2 ? -1 : 1;
    if (s1 !== s2) return s1 - s2; // fewer leading zeros first
  }
  return (a.length - i) - (b.length - j);
}
