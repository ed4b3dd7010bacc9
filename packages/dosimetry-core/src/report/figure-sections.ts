/**
 * The figures of the PDF report: the cumulative DVH of every structure (vector lines, legend with mean doses) and the
 * axial and coronal dose images through each tumour's centre of mass (PNG rasters from figures.ts, a vector colour bar
 * in Gy, orientation letters).
 */
import { degrees } from 'pdf-lib';
import type { ReportStructureFields } from './fields.ts';
import {
  ABDOMEN_WINDOW, dvhDoseAxis, dvhPolyline, niceAxis, renderDoseSlice, structureColor, structureCentreLpsMm, structureDash,
  structureDoseQuantileGy, structuresWorldBox, turbo, type DoseSlice,
} from './figures.ts';
import { BLACK, color, GREY, LIGHT, Layout, type Rgb } from './layout.ts';
import type { CaseReportInput } from './pdf.ts';
import { fixed, REPORT_ROUNDING as R } from './text.ts';

/** Tumours shown in slice images at most; further ones are named in a note. */
export const MAX_IMAGED_TUMOURS = 6;

// ---------------------------------------------------------------------------------------------------------------
// DVH

/** Draws the DVH figure. */
export function drawDvh(L: Layout, structures: readonly ReportStructureFields[]): void {
  const withDvh = structures.map((s, i) => ({ s, i })).filter(({ s }) => s.dvh && s.dvh.doseGy.length > 0);
  if (!withDvh.length) return;
  const legendLines = withDvh.length;
  const plotH = 190;
  const h = Math.max(plotH + 40, legendLines * 10 + 20);
  L.heading('Cumulative dose-volume histograms', h + 10);
  const box = { xPt: L.left + 38, yPt: L.y - plotH - 10, widthPt: 300, heightPt: plotH };
  const axis = dvhDoseAxis(withDvh.map(({ s }) => s.dvh!));
  const page = L.page;
  const small = 7;
  // grid and ticks
  for (const tick of axis.ticks) {
    const x = box.xPt + (tick / axis.maxValue) * box.widthPt;
    page.drawLine({ start: { x, y: box.yPt }, end: { x, y: box.yPt + box.heightPt }, thickness: 0.3, color: color(LIGHT) });
    const label = String(tick);
    L.drawLine(label, x - L.textWidth(label, small) / 2, box.yPt - 9, small);
  }
  for (let v = 0; v <= 100; v += 20) {
    const y = box.yPt + (v / 100) * box.heightPt;
    page.drawLine({ start: { x: box.xPt, y }, end: { x: box.xPt + box.widthPt, y }, thickness: 0.3, color: color(LIGHT) });
    const label = String(v);
    L.drawLine(label, box.xPt - 4 - L.textWidth(label, small), y - 2.5, small);
  }
  page.drawRectangle({ x: box.xPt, y: box.yPt, width: box.widthPt, height: box.heightPt, borderColor: color(BLACK), borderWidth: 0.6 });
  L.drawLine('Dose [Gy]', box.xPt + box.widthPt / 2 - L.textWidth('Dose [Gy]', 8) / 2, box.yPt - 20, 8);
  page.drawText('Volume [%]', { x: box.xPt - 22, y: box.yPt + box.heightPt / 2 - L.textWidth('Volume [%]', 8) / 2, size: 8, font: L.fonts.regular, rotate: degrees(90) });
  // curves
  for (const { s, i } of withDvh) {
    const pts = dvhPolyline(s.dvh!, box, axis.maxValue);
    if (pts.length < 2) continue;
    const c = structureColor(i);
    const dash = structureDash(i);
    // one SVG path per curve (pdf-lib's SVG paths run y downwards from the given origin)
    const d = pts.map(([px, py], k) => `${k ? 'L' : 'M'}${(px - box.xPt).toFixed(2)} ${(box.yPt + box.heightPt - py).toFixed(2)}`).join(' ');
    page.drawSvgPath(d, { x: box.xPt, y: box.yPt + box.heightPt, borderColor: color(c as Rgb), borderWidth: 1.1, borderDashArray: dash });
  }
  // legend
  let ly = box.yPt + box.heightPt - 4;
  const lx = box.xPt + box.widthPt + 14;
  for (const { s, i } of withDvh) {
    const c = structureColor(i);
    page.drawLine({ start: { x: lx, y: ly + 2.5 }, end: { x: lx + 16, y: ly + 2.5 }, thickness: 1.6, color: color(c as Rgb), dashArray: structureDash(i) });
    const text = `${s.name} (${fixed(s.meanGy, R.doseGy)} Gy)`;
    for (const [k, line] of L.wrap(text, L.left + L.widthPt - lx - 20, small).entries()) L.drawLine(line, lx + 20, ly - k * 8.5, small);
    ly -= 10 * Math.max(1, L.wrap(text, L.left + L.widthPt - lx - 20, small).length);
  }
  L.y = Math.min(box.yPt - 26, ly - 4);
  L.paragraph(`Dose axis to ${axis.maxValue} Gy (the highest dose any structure still has 0.1 % of its volume at); curves are clipped there, maxima are in the table.`, { sizePt: 7, color: GREY });
}

// ---------------------------------------------------------------------------------------------------------------
// Slice images

/** Draws the dose images of each tumour (or of the liver when no tumour is given). */
export function drawSlices(L: Layout, input: CaseReportInput, structures: readonly ReportStructureFields[]): void {
  const grid = input.dose.geometry;
  const tumours = structures.map((s, i) => ({ s, i })).filter(({ s }) => s.role === 'tumor' && s.lesionOf === undefined);
  const focus = tumours.length ? tumours : structures.map((s, i) => ({ s, i })).filter(({ s }) => s.role === 'liver').slice(0, 1);
  L.heading('Dose images', 300);
  if (!focus.length) {
    L.paragraph('No tumour or liver structure: no images.');
    return;
  }
  const box = structuresWorldBox(grid, input.gridStructures, 20);
  if (!box) {
    L.paragraph('The structures hold no voxel of the dose grid: no images.');
    return;
  }
  // colour scale: up to the 99th percentile of the structures' voxel doses, or the hottest tumour's mean if higher
  const hottestTumourGy = Math.max(0, ...tumours.map(({ s }) => s.meanGy ?? 0));
  const colorMax = niceAxis(Math.max(structureDoseQuantileGy(input.dose, input.gridStructures, 0.99), hottestTumourGy), 6);
  const thresholdGy = 0.05 * colorMax.maxValue;
  const extentX = box.hi[0] - box.lo[0], extentY = box.hi[1] - box.lo[1], extentZ = box.hi[2] - box.lo[2];
  const pixelMm = Math.max(0.5, Math.max(extentX, extentY, extentZ) / 420);
  // outlines: every structure but split lesions (their parent tumour is outlined), tumours drawn last (on top)
  const outlined = structures
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.lesionOf === undefined)
    .sort((a, b) => Number(a.s.role === 'tumor') - Number(b.s.role === 'tumor') || a.i - b.i);
  const outlines = outlined.map(({ i }) => ({ structure: input.gridStructures[i], rgb: structureColor(i) }));
  L.paragraph(
    `Axial and coronal planes through the centre of mass of each ${tumours.length ? 'tumour' : 'liver (no tumour given)'}; patient's right on the image's left. ` +
      (input.ct
        ? `CT in greyscale (window W ${ABDOMEN_WINDOW.widthHu} / L ${ABDOMEN_WINDOW.centerHu} HU) with the dose as a colour wash from ${fixed(thresholdGy, R.doseGy)} Gy (5 % of the scale) up; `
        : `No CT was given: the dose alone, coloured from ${fixed(thresholdGy, R.doseGy)} Gy (5 % of the scale) up, on white; `) +
      `structure outlines (voxels at least half inside) in the colours of the DVH:`,
    { sizePt: 7.5, color: GREY, afterPt: 1 },
  );
  drawOutlineLegend(L, outlined.map(({ s, i }) => ({ name: s.name, rgb: structureColor(i) })));
  const shown = focus.slice(0, MAX_IMAGED_TUMOURS);
  const scale = Math.min(222 / extentX, 250 / Math.max(extentY, extentZ));
  for (const { s, i } of shown) {
    const centre = structureCentreLpsMm(grid, input.gridStructures[i]);
    if (!centre) {
      L.paragraph(`${s.name}: empty on the dose grid, no image.`);
      continue;
    }
    const slices = (['axial', 'coronal'] as const).map((plane) =>
      renderDoseSlice({ plane, throughLpsMm: centre, box, pixelMm, dose: input.dose, ct: input.ct, colorMaxGy: colorMax.maxValue, thresholdGy, outlines }),
    );
    const hPt = Math.max(...slices.map((sl) => sl.heightMm * scale));
    L.need(hPt + 40);
    L.paragraph(`${s.name}: mean ${fixed(s.meanGy, R.doseGy)} Gy; centre of mass (${centre.map((v) => fixed(v, 1)).join(', ')}) mm LPS`, { sizePt: 8.5, bold: true, afterPt: 8 });
    const top = L.y - 2;
    let x = L.left + 10;
    for (const sl of slices) {
      drawSlice(L, sl, x, top, scale);
      x += sl.widthMm * scale + 18;
    }
    drawColorBar(L, x + 2, top - hPt, hPt, colorMax);
    L.y = top - hPt - 20;
  }
  if (focus.length > shown.length) {
    L.paragraph(`${focus.length - shown.length} further tumour(s) not shown: ${focus.slice(shown.length).map(({ s }) => s.name).join(', ')} (open the case in the viewer).`, { sizePt: 8 });
  }
}

function drawSlice(L: Layout, sl: DoseSlice, xPt: number, topPt: number, ptPerMm: number): void {
  const w = sl.widthMm * ptPerMm, h = sl.heightMm * ptPerMm;
  L.image({ widthPx: sl.widthPx, heightPx: sl.heightPx, channels: 3, data: sl.rgb }, xPt, topPt - h, w, h);
  L.page.drawRectangle({ x: xPt, y: topPt - h, width: w, height: h, borderColor: color(GREY), borderWidth: 0.4 });
  const size = 7;
  const mid = (t: string) => L.textWidth(t, size, { bold: true }) / 2;
  L.drawLine(sl.edges.top, xPt + w / 2 - mid(sl.edges.top), topPt + 2, size, { bold: true });
  L.drawLine(sl.edges.bottom, xPt + w / 2 - mid(sl.edges.bottom), topPt - h - 8, size, { bold: true });
  L.drawLine(sl.edges.left, xPt - 8, topPt - h / 2 - 2, size, { bold: true });
  L.drawLine(sl.edges.right, xPt + w + 2, topPt - h / 2 - 2, size, { bold: true });
  const caption = `${sl.plane}, ${sl.plane === 'axial' ? 'z' : 'y'} = ${fixed(sl.planeMm, 1)} mm`;
  L.drawLine(L.clean(caption), xPt + 6, topPt - h - 8, 6.5, { color: GREY });
}

/** A row (wrapping) of colour swatches with structure names. */
function drawOutlineLegend(L: Layout, items: ReadonlyArray<{ name: string; rgb: readonly [number, number, number] }>): void {
  const size = 7;
  let x = L.left;
  L.need(12);
  for (const it of items) {
    const w = 14 + L.textWidth(it.name, size) + 10;
    if (x + w > L.left + L.widthPt) {
      L.y -= 10;
      L.need(12);
      x = L.left;
    }
    L.page.drawLine({ start: { x, y: L.y - 5 }, end: { x: x + 10, y: L.y - 5 }, thickness: 2, color: color(it.rgb as Rgb) });
    L.drawLine(L.clean(it.name), x + 14, L.y - 7.5, size);
    x += w;
  }
  L.y -= 16;
}

function drawColorBar(L: Layout, xPt: number, yPt: number, hPt: number, axis: ReturnType<typeof niceAxis>): void {
  const steps = 64;
  for (let k = 0; k < steps; k++) {
    const c = turbo((k + 0.5) / steps);
    L.page.drawRectangle({ x: xPt, y: yPt + (k * hPt) / steps, width: 9, height: hPt / steps + 0.3, color: color(c) });
  }
  L.page.drawRectangle({ x: xPt, y: yPt, width: 9, height: hPt, borderColor: color(BLACK), borderWidth: 0.4 });
  for (const t of axis.ticks) {
    const y = yPt + (t / axis.maxValue) * hPt;
    L.page.drawLine({ start: { x: xPt + 9, y }, end: { x: xPt + 12, y }, thickness: 0.4, color: color(BLACK) });
    L.drawLine(String(t), xPt + 13, y - 2.3, 6.5);
  }
  L.drawLine('Gy', xPt, yPt + hPt + 3, 7, { bold: true });
}

