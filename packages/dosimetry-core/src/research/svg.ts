/**
 * Publication-style plots as plain, hand-written SVG (no plotting dependency): the ROC curve, dose by response
 * group (points with medians), the logistic dose-response curve and Kaplan-Meier curves. Each function returns a
 * complete standalone SVG document (viewBox in px, black axes with "nice" ticks, labelled axes, a legend).
 */
import type { RocResult } from './roc.ts';
import type { KmCurve } from './km.ts';

const W = 560;
const H = 420;
const M = { left: 70, right: 20, top: 40, bottom: 60 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Escapes text for SVG/XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round-number ticks (steps of 1, 2 or 5 times a power of ten) covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return ticks;
}

/** Extends [lo, hi] outward to tick multiples. */
function niceDomain(lo: number, hi: number): [number, number] {
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const t = niceTicks(lo, hi);
  const step = t.length > 1 ? t[1] - t[0] : 1;
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
}

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(6))));
const n2 = (v: number) => v.toFixed(2);

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  parts: string[];
}

function frame(opts: { title: string; xLabel: string; yLabel: string; xDomain: [number, number]; yDomain: [number, number]; xTicks?: number[]; xTickLabels?: string[] }): Frame {
  const [x0, x1] = opts.xDomain;
  const [y0, y1] = opts.yDomain;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number) => M.left + ((v - x0) / (x1 - x0)) * pw;
  const y = (v: number) => M.top + ph - ((v - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="${M.top / 2 + 5}" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(opts.title)}</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#000" stroke-width="1"/>`);
  const xt = opts.xTicks ?? niceTicks(x0, x1);
  xt.forEach((t, k) => {
    if (t < x0 - 1e-9 || t > x1 + 1e-9) return;
    parts.push(`<line x1="${n2(x(t))}" y1="${M.top + ph}" x2="${n2(x(t))}" y2="${M.top + ph + 5}" stroke="#000"/>`);
    parts.push(`<text x="${n2(x(t))}" y="${M.top + ph + 19}" text-anchor="middle" font-size="12">${xmlEscape(opts.xTickLabels?.[k] ?? fmt(t))}</text>`);
  });
  for (const t of niceTicks(y0, y1)) {
    if (t < y0 - 1e-9 || t > y1 + 1e-9) continue;
    parts.push(`<line x1="${M.left - 5}" y1="${n2(y(t))}" x2="${M.left}" y2="${n2(y(t))}" stroke="#000"/>`);
    parts.push(`<text x="${M.left - 8}" y="${n2(y(t) + 4)}" text-anchor="end" font-size="12">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 15}" text-anchor="middle" font-size="13">${xmlEscape(opts.xLabel)}</text>`);
  parts.push(`<text x="18" y="${M.top + ph / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ${M.top + ph / 2})">${xmlEscape(opts.yLabel)}</text>`);
  return { x, y, parts };
}

function legend(items: ReadonlyArray<{ label: string; color: string; dash?: string }>, corner: 'bottom-right' | 'top-right' = 'bottom-right'): string {
  const lh = 18;
  const w = Math.max(...items.map((i) => i.label.length)) * 7 + 40;
  const x0 = W - M.right - w - 8;
  const y0 = corner === 'bottom-right' ? H - M.bottom - lh * items.length - 12 : M.top + 8;
  const out = [`<rect x="${x0}" y="${y0}" width="${w}" height="${lh * items.length + 6}" fill="#fff" fill-opacity="0.85" stroke="#999"/>`];
  items.forEach((it, k) => {
    const yy = y0 + 12 + k * lh;
    out.push(`<line x1="${x0 + 6}" y1="${yy}" x2="${x0 + 28}" y2="${yy}" stroke="${it.color}" stroke-width="2"${it.dash ? ` stroke-dasharray="${it.dash}"` : ''}/>`);
    out.push(`<text x="${x0 + 34}" y="${yy + 4}" font-size="12">${xmlEscape(it.label)}</text>`);
  });
  return out.join('\n');
}

function doc(parts: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}

/** ROC curve with the chance diagonal, the Youden point, AUC with its CI in the legend. */
export function rocSvg(r: RocResult, opts: { title?: string; doseLabel?: string } = {}): string {
  const f = frame({ title: opts.title ?? 'ROC curve', xLabel: '1 - specificity', yLabel: 'Sensitivity', xDomain: [0, 1], yDomain: [0, 1] });
  const pts = [{ fpr: 0, tpr: 0 }, ...r.curve];
  const path = pts.map((p, k) => `${k ? 'L' : 'M'}${n2(f.x(p.fpr))},${n2(f.y(p.tpr))}`).join(' ');
  f.parts.push(`<line x1="${f.x(0)}" y1="${f.y(0)}" x2="${f.x(1)}" y2="${f.y(1)}" stroke="#999" stroke-dasharray="4 4"/>`);
  f.parts.push(`<path d="${path}" fill="none" stroke="${COLORS[0]}" stroke-width="2"/>`);
  const cx = f.x(1 - r.specificity), cy = f.y(r.sensitivity);
  f.parts.push(`<circle cx="${n2(cx)}" cy="${n2(cy)}" r="5" fill="${COLORS[1]}"/>`);
  f.parts.push(`<text x="${n2(cx + 8)}" y="${n2(cy + 16)}" font-size="12">cutoff ${fmt(r.cutoff)} ${xmlEscape(opts.doseLabel ?? 'Gy')}</text>`);
  f.parts.push(legend([{ label: `AUC ${r.auc.toFixed(2)} (95 % CI ${r.aucCi95[0].toFixed(2)}-${r.aucCi95[1].toFixed(2)})`, color: COLORS[0] }]));
  return doc(f.parts);
}

/** Dose by response group: every value as a point (deterministic horizontal jitter), the median as a bar. */
export function groupsSvg(groups: ReadonlyArray<{ group: string; valuesGy: readonly number[] }>, opts: { title?: string; yLabel?: string; subtitle?: string } = {}): string {
  const all = groups.flatMap((g) => [...g.valuesGy]);
  const yDomain = niceDomain(Math.min(0, ...all), Math.max(...all));
  const k = groups.length;
  const f = frame({
    title: opts.title ?? 'Dose by response', xLabel: opts.subtitle ?? 'Response group', yLabel: opts.yLabel ?? 'Mean absorbed dose (Gy)',
    xDomain: [0.4, k + 0.6], yDomain, xTicks: groups.map((_, i) => i + 1), xTickLabels: groups.map((g) => `${g.group} (n=${g.valuesGy.length})`),
  });
  groups.forEach((g, i) => {
    const c = COLORS[i % COLORS.length];
    const sorted = [...g.valuesGy].sort((a, b) => a - b);
    sorted.forEach((v, j) => {
      const jitter = ((j * 0.618034) % 1 - 0.5) * 0.4; // golden-ratio spread, no randomness
      f.parts.push(`<circle cx="${n2(f.x(i + 1 + jitter))}" cy="${n2(f.y(v))}" r="3.5" fill="${c}" fill-opacity="0.6" stroke="${c}"/>`);
    });
    if (sorted.length) {
      const m = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
      f.parts.push(`<line x1="${n2(f.x(i + 0.7))}" y1="${n2(f.y(m))}" x2="${n2(f.x(i + 1.3))}" y2="${n2(f.y(m))}" stroke="#000" stroke-width="2.5"/>`);
    }
  });
  f.parts.push(legend([{ label: 'median', color: '#000' }], 'top-right'));
  return doc(f.parts);
}

/** Logistic dose-response curve with the observations at 0/1 and D50 marked. */
export function doseResponseSvg(opts: { doseGy: readonly number[]; responder: readonly boolean[]; probabilityAt: (d: number) => number; d50Gy?: number; title?: string; xLabel?: string }): string {
  const xDomain = niceDomain(Math.min(0, ...opts.doseGy), Math.max(...opts.doseGy));
  const f = frame({ title: opts.title ?? 'Dose-response', xLabel: opts.xLabel ?? 'Mean absorbed dose (Gy)', yLabel: 'Probability of response', xDomain, yDomain: [0, 1] });
  const N = 200;
  const path = Array.from({ length: N + 1 }, (_, i) => {
    const d = xDomain[0] + ((xDomain[1] - xDomain[0]) * i) / N;
    return `${i ? 'L' : 'M'}${n2(f.x(d))},${n2(f.y(opts.probabilityAt(d)))}`;
  }).join(' ');
  f.parts.push(`<path d="${path}" fill="none" stroke="${COLORS[0]}" stroke-width="2"/>`);
  opts.doseGy.forEach((d, i) => {
    const yv = opts.responder[i] ? 1 : 0;
    f.parts.push(`<circle cx="${n2(f.x(d))}" cy="${n2(f.y(yv) + (yv ? 6 : -6))}" r="3" fill="${opts.responder[i] ? COLORS[2] : COLORS[1]}" fill-opacity="0.6"/>`);
  });
  const items = [{ label: 'logistic fit', color: COLORS[0] }, { label: 'responders (top)', color: COLORS[2] }, { label: 'non-responders (bottom)', color: COLORS[1] }];
  if (opts.d50Gy !== undefined && opts.d50Gy >= xDomain[0] && opts.d50Gy <= xDomain[1]) {
    f.parts.push(`<line x1="${n2(f.x(opts.d50Gy))}" y1="${n2(f.y(0))}" x2="${n2(f.x(opts.d50Gy))}" y2="${n2(f.y(0.5))}" stroke="#555" stroke-dasharray="4 3"/>`);
    f.parts.push(`<line x1="${n2(f.x(xDomain[0]))}" y1="${n2(f.y(0.5))}" x2="${n2(f.x(opts.d50Gy))}" y2="${n2(f.y(0.5))}" stroke="#555" stroke-dasharray="4 3"/>`);
    items.push({ label: `D50 = ${opts.d50Gy.toFixed(1)} Gy`, color: '#555' });
  }
  f.parts.push(legend(items));
  return doc(f.parts);
}

/** Kaplan-Meier step curves with censoring ticks, medians and the log-rank p-value in the legend. */
export function kmSvg(curves: readonly KmCurve[], opts: { title?: string; timeLabel?: string; logRankP?: number } = {}): string {
  const tmax = Math.max(...curves.flatMap((c) => [...c.steps.map((s) => s.time), ...c.censorTimes]), 1);
  const f = frame({ title: opts.title ?? 'Kaplan-Meier', xLabel: opts.timeLabel ?? 'Time', yLabel: 'Survival probability', xDomain: niceDomain(0, tmax), yDomain: [0, 1] });
  const items: Array<{ label: string; color: string }> = [];
  curves.forEach((c, i) => {
    const col = COLORS[i % COLORS.length];
    let d = `M${n2(f.x(0))},${n2(f.y(1))}`;
    for (const st of c.steps) d += ` H${n2(f.x(st.time))} V${n2(f.y(st.survival))}`;
    const last = Math.max(c.steps.at(-1)?.time ?? 0, ...c.censorTimes);
    d += ` H${n2(f.x(last))}`;
    f.parts.push(`<path d="${d}" fill="none" stroke="${col}" stroke-width="2"/>`);
    for (const t of c.censorTimes) {
      const sv = [...c.steps].reverse().find((st) => st.time <= t)?.survival ?? 1;
      f.parts.push(`<line x1="${n2(f.x(t))}" y1="${n2(f.y(sv) - 5)}" x2="${n2(f.x(t))}" y2="${n2(f.y(sv) + 5)}" stroke="${col}" stroke-width="1.5"/>`);
    }
    items.push({ label: `${c.group} (n=${c.n}, median ${c.median === null ? 'not reached' : fmt(c.median)})`, color: col });
  });
  if (opts.logRankP !== undefined) items.push({ label: `log-rank p = ${opts.logRankP < 1e-4 ? opts.logRankP.toExponential(1) : opts.logRankP.toFixed(4)}`, color: '#fff' });
  f.parts.push(legend(items, 'top-right'));
  return doc(f.parts);
}
