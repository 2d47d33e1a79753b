// Go's text/tabwriter (elastic tabstops), as Docker's CLI aligns a `--format
// 'table …'` with it: cells end at a tab, a column is as wide as its widest
// cell in a block of consecutive lines that have it, plus the padding, and at
// least minwidth; the last cell of a line is not part of a column. A line of
// one cell ends the blocks above it (Go flushes there).

/** The text aligned as `tabwriter.NewWriter(out, minwidth, 1, padding, ' ', 0)` writes it. */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  let out = "";
  let lines: string[][] = [[]];
  const width = (s: string): number => [...s].length;

  const writeLines = (widths: number[], line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      line.forEach((c, j) => {
        out += c;
        if (j < widths.length) out += " ".repeat(Math.max(0, widths[j]! - width(c)));
      });
      if (i + 1 < lines.length) out += "\n";
    }
  };

  const format = (widths: number[], line0: number, line1: number): void => {
    const column = widths.length;
    let from = line0;
    for (let at = line0; at < line1; at++) {
      if (column >= lines[at]!.length - 1) continue;
      writeLines(widths, from, at);
      from = at;
      let w = minwidth;
      for (; at < line1; at++) {
        const line = lines[at]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + padding);
      }
      format([...widths, w], from, at);
      from = at;
    }
    writeLines(widths, from, line1);
  };

  const flush = (): void => {
    format([], 0, lines.length);
    lines = [[]];
  };

  const segments = text.split("\n");
  segments.forEach((seg, i) => {
    const cells = seg.split("\t");
    const last = i === segments.length - 1;
    if (last) {
      // The text after the last newline: its cells, the unfinished one only if not empty.
      if (cells[cells.length - 1] === "") cells.pop();
      lines[lines.length - 1] = cells;
      return;
    }
    lines[lines.length - 1] = cells;
    lines.push([]);
    if (cells.length === 1) flush();
  });
  flush();
  return out;
}
