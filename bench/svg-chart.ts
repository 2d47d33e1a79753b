// A hand-written SVG chart: one or more series of (x, y) points over shared
// axes, lines with dots, a legend. Enough for predicted-vs-measured plots.

export interface Series { name: string; color: string; points: [number, number][]; dashed?: boolean }

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], w = 640, h = 400): string {
  const m = { l: 70, r: 20, t: 40, b: 50 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const y1 = niceMax(Math.max(...ys, 1));
  const X = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * (w - m.l - m.r);
  const Y = (y: number): number => h - m.b - (y / y1) * (h - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${h - m.b}" x2="${w - m.r}" y2="${h - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${h - m.b}" stroke="black"/>`,
    `<text x="${(m.l + w - m.r) / 2}" y="${h - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="16" y="${(m.t + h - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + h - m.b) / 2})">${esc(yLabel)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (y1 * i) / 5;
    out.push(`<line x1="${m.l}" y1="${Y(v)}" x2="${w - m.r}" y2="${Y(v)}" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<text x="${X(x)}" y="${h - m.b + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  series.forEach((s, i) => {
    const pts = s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    out.push(`<rect x="${m.l + 12}" y="${m.t + 6 + i * 18}" width="14" height="4" fill="${s.color}"/>`,
      `<text x="${m.l + 32}" y="${m.t + 11 + i * 18}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= v) return f * p;
  return 10 * p;
}

const fmt = (v: number): string => (Math.abs(v) >= 1000 ? `${Number((v / 1000).toPrecision(3))}k` : String(Number(v.toPrecision(3))));
