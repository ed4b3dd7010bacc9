/**
 * Cumulative DVH plot (hand-written SVG) and the activity scaling of DVH-derived numbers. Dose is linear in
 * activity, so at activity ratio f a structure's DVH is V_f(D) = V_1(D / f): the dose axis scales by f.
 */
import type { ReportStructureJson } from '../protocol.ts';

/** Volume fraction receiving at least `doseGy` from a cumulative DVH (linear interpolation; 0 beyond its end). */
export function volumeFractionAt(dvh: { doseGy: number[]; volumeFraction: number[] }, doseGy: number): number {
  const d = dvh.doseGy, v = dvh.volumeFraction;
  if (d.length === 0) return NaN;
  if (doseGy <= d[0]) return v[0];
  for (let i = 1; i < d.length; i++) {
    if (doseGy <= d[i]) {
      const w = d[i] > d[i - 1] ? (doseGy - d[i - 1]) / (d[i] - d[i - 1]) : 1;
      return v[i - 1] + w * (v[i] - v[i - 1]);
    }
  }
  return 0;
}

/** V_x (fraction of the volume at or above x Gy) at activity ratio f; the report's own value when f = 1. */
export function scaledVx(s: ReportStructureJson, thresholdGy: number, reported: number, f: number): number {
  if (f === 1) return reported;
  if (!(f > 0)) return 0;
  return volumeFractionAt(s.dvh, thresholdGy / f);
}

const NS = 'http://www.w3.org/2000/svg';
function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Draws the cumulative DVHs of the chosen structures at activity ratio f into `svg`. */
export function drawDvh(
  svg: SVGSVGElement,
  curves: Array<{ s: ReportStructureJson; colorRgb: [number, number, number] }>,
  f: number,
): void {
  svg.replaceChildren();
  const W = Number(svg.getAttribute('width')), H = Number(svg.getAttribute('height'));
  const L = 46, R = 10, T = 10, B = 34;
  let maxD = 0;
  for (const c of curves) {
    const d = c.s.dvh.doseGy;
    for (let i = 0; i < d.length; i++) if (c.s.dvh.volumeFraction[i] > 0.001) maxD = Math.max(maxD, d[i] * f);
  }
  maxD = niceCeil(maxD || 100);
  const x = (d: number) => L + ((W - L - R) * d) / maxD;
  const y = (v: number) => T + (H - T - B) * (1 - v);
  for (let t = 0; t <= 5; t++) {
    const d = (maxD * t) / 5;
    svg.append(el('line', { x1: x(d), x2: x(d), y1: T, y2: H - B, stroke: '#333' }));
    svg.append(el('text', { x: x(d), y: H - B + 14, 'text-anchor': 'middle' }, String(+d.toFixed(1))));
    const v = t / 5;
    svg.append(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#333' }));
    svg.append(el('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end' }, `${Math.round(100 * v)}`));
  }
  svg.append(el('text', { x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle' }, 'dose [Gy]'));
  svg.append(el('text', { x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, 'text-anchor': 'middle' }, 'volume [%]'));
  curves.forEach((c, n) => {
    const pts = c.s.dvh.doseGy.map((d, i) => `${x(Math.min(d * f, maxD)).toFixed(1)},${y(c.s.dvh.volumeFraction[i]).toFixed(1)}`);
    const col = `rgb(${c.colorRgb.join(',')})`;
    svg.append(el('polyline', { points: pts.join(' '), fill: 'none', stroke: col, 'stroke-width': 2, 'data-name': c.s.name }));
    svg.append(el('text', { x: W - R - 4, y: T + 12 + 13 * n, 'text-anchor': 'end', fill: col, style: `fill:${col}` }, c.s.name));
  });
}

/** Smallest "nice" number (1, 2, 2.5, 5 x 10^n) at or above x > 0. */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}
