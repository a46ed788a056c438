// A static SVG line chart (no dependencies): allocation against arrived demand, one line per series.

export interface Series {
  name: string;
  /** Index = x (arrived demand %); null = no point. */
  values: readonly (number | null)[];
  dashed?: boolean;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function lineChartSvg(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  width?: number;
  height?: number;
}): string {
  const W = opts.width ?? 760;
  const H = opts.height ?? 480;
  const m = { l: 60, r: 170, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const X = (x: number) => m.l + ((x - opts.xMin) / (opts.xMax - opts.xMin)) * pw;
  const Y = (y: number) => m.t + ph - ((y - opts.yMin) / (opts.yMax - opts.yMin)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`);
  const yStep = (opts.yMax - opts.yMin) / 5;
  for (let i = 0; i <= 5; i++) {
    const y = opts.yMin + i * yStep;
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(y)}" y2="${Y(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 6}" y="${Y(y) + 4}" text-anchor="end">${Number(y.toFixed(1))}</text>`);
  }
  const xStep = (opts.xMax - opts.xMin) / 4;
  for (let i = 0; i <= 4; i++) {
    const x = opts.xMin + i * xStep;
    out.push(`<line x1="${X(x)}" x2="${X(x)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${X(x)}" y="${m.t + ph + 16}" text-anchor="middle">${Number(x.toFixed(1))}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  opts.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts: string[] = [];
    for (let x = Math.ceil(opts.xMin); x <= opts.xMax; x++) {
      const v = s.values[x];
      if (v === null || v === undefined) continue;
      const y = Math.max(opts.yMin, Math.min(opts.yMax, v));
      pts.push(`${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
    }
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="${s.name.startsWith('default') ? 2.6 : 1.6}"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${pts.join(' ')}"/>`);
    const ly = m.t + 14 + i * 18;
    out.push(`<line x1="${m.l + pw + 12}" x2="${m.l + pw + 36}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    out.push(`<text x="${m.l + pw + 42}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
