/**
 * Compare mode of the page (GET /api/compare, server/compare.ts): the planned and the achieved case side by side,
 * each with its three views drawn from its own CT, dose and structure outlines as a single case is (same renderer,
 * same rules), one crosshair shared in world coordinates (LPS mm: clicking in any view moves every view of both sides
 * to that point, so cases on different grids line up by position, not by voxel index), the difference map
 * achieved - planned [Gy] as an overlay on either side (diverging colormap centred at 0 Gy, symmetric range, legend),
 * and the structures matched by name with planned and achieved mean absorbed dose (MAD) and their difference.
 */
import type { CompareJson, CompareRowJson } from '../protocol.ts';
import type { DisplaySettings, SceneVolumes, SliceRenderer } from './renderer.ts';
import { samplePlane, createCpuRenderer } from './render-cpu.ts';
import { createGpuRenderer, requestGpuDevice } from './render-gpu.ts';
import { divergingRgb, symmetricRangeGy } from './diverging.ts';
import { niceCeil } from './dvh.ts';
import {
  type ClientVolume,
  type Lps,
  type NavState,
  VIEW_AXES,
  VIEW_NAMES,
  type ViewName,
  canvasToLps,
  gridBounds,
  lpsToCanvas,
  makeClientVolume,
  pixelToLps,
  sampleAt,
} from './views.ts';

type Side = 'planned' | 'achieved';
const SIDES: readonly Side[] = ['planned', 'achieved'];

/** Options of `showCompare`. */
export interface ShowCompareOptions {
  /** Requested back end: 'webgpu', 'cpu' or 'auto' (?backend=). */
  readonly backend: string;
  /** Canvas size of each view [px]. */
  readonly sizePx: number;
}

/** Test hooks of compare mode, on window.__viewer.compare. */
export interface CompareHooks {
  /** Difference [Gy] at an LPS point (nearest voxel of the difference map), undefined off its grid. */
  differenceAt(p: Lps): number | undefined;
  /** Symmetric colour range of the difference overlay [Gy]. */
  rangeGy(): number;
  /** Shows or hides the difference overlay of one side and redraws. */
  setDifference(side: Side, on: boolean): Promise<void>;
  /** Canvas pixel (x, y) of an LPS point in a view (both sides share the navigation). */
  pixelOf(view: ViewName, p: Lps): [number, number];
}

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.arrayBuffer();
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

interface SideUi {
  side: Side;
  vols: SceneVolumes;
  renderer: SliceRenderer;
  views: Array<{ view: ViewName; canvas: HTMLCanvasElement; diff: HTMLCanvasElement; overlay: HTMLCanvasElement }>;
  readout: HTMLElement;
  showDifference: boolean;
  structureNames: (p: Lps) => string[];
}

/** Loads the comparison from the server and shows it; sets window.__viewer's hooks and body[data-ready]. */
export async function showCompare(opts: ShowCompareOptions): Promise<void> {
  const hooks = window.__viewer;
  const cj = (await (await fetch('/api/compare')).json()) as CompareJson;
  const size = opts.sizePx;
  (document.getElementById('case-view') as HTMLElement).hidden = true;
  (document.getElementById('case-name') as HTMLElement).textContent = `compare ${cj.name}`;
  const warn = document.getElementById('warnings') as HTMLElement;
  const warnings = [...cj.warnings];

  // Volumes of both sides and the difference map.
  const load = async (c: CompareJson['planned']) => {
    const vols: Partial<Record<string, ClientVolume>> = {};
    await Promise.all(c.volumes.map(async (v) => (vols[v.name] = makeClientVolume(v.grid, new Float32Array(await fetchBytes(v.url))))));
    const labels = c.labels ? makeClientVolume(c.labels.grid, new Uint32Array(await fetchBytes(c.labels.url))) : undefined;
    return { ct: vols.ct, dose: vols.dose, labels };
  };
  const [pv, av, diff] = await Promise.all([
    load(cj.planned),
    load(cj.achieved),
    cj.difference ? fetchBytes(cj.difference.url).then((b) => makeClientVolume(cj.difference!.grid, new Float32Array(b))) : Promise.resolve(undefined),
  ]);
  const sceneOf: Record<Side, SceneVolumes> = { planned: pv, achieved: av };
  if (!diff) warnings.push('no difference map: the overlay is off');

  // Back end: one device, one renderer per side.
  let device: GPUDevice | undefined;
  if (opts.backend !== 'cpu') {
    try {
      device = await requestGpuDevice({ allowSoftware: opts.backend === 'webgpu', why: (r) => warnings.push(r) });
    } catch (err) {
      warnings.push(`WebGPU failed (${(err as Error).message}): CPU rendering`);
    }
  }
  const makeRenderer = (v: SceneVolumes): SliceRenderer => (device ? createGpuRenderer(device, v) : createCpuRenderer(v));

  // Shared navigation and display.
  const base = pv.ct ?? pv.dose ?? av.ct ?? av.dose;
  const bounds = base ? gridBounds(base.grid) : { centre: [0, 0, 0] as Lps, extentMm: 300 };
  const nav: NavState = { crosshair: [...bounds.centre], centre: [...bounds.centre], mmPerPx: bounds.extentMm / size };
  const sliceStepMm = base ? Math.min(...base.grid.spacingMm) : 1;
  let doseMax = 0;
  for (const v of [pv.dose, av.dose]) if (v) for (const x of v.data) if (x > doseMax) doseMax = x;
  const settingsOf = (c: CompareJson['planned']): DisplaySettings => {
    const s: DisplaySettings = {
      windowCentreHu: 40, windowWidthHu: 400, doseScale: 1, colorMaxGy: niceCeil(doseMax || 100), thresholdGy: 5, opacity: 0.5,
      showDose: true, isodoseGy: [], visibleMask: 0, structureColors: [],
    };
    for (const e of c.structures) if (e.bit >= 0) {
      s.visibleMask |= 1 << e.bit;
      s.structureColors[e.bit] = e.colorRgb;
    }
    s.visibleMask >>>= 0;
    return s;
  };
  const settings: Record<Side, DisplaySettings> = { planned: settingsOf(cj.planned), achieved: settingsOf(cj.achieved) };
  let rangeGy = diff ? symmetricRangeGy(diff.data) : 1;
  let diffOpacity = 0.6;

  // Page.
  const root = el('section', { id: 'compare-view', 'data-testid': 'compare-view' });
  const controls = el('fieldset', { class: 'compare-controls' });
  const doseBox = el('input', { type: 'checkbox', 'data-testid': 'compare-show-dose', checked: '' });
  const rangeInput = el('input', { type: 'number', min: '0', step: 'any', value: String(rangeGy), 'data-testid': 'diff-range', size: '6' });
  const opacityInput = el('input', { type: 'range', min: '0', max: '1', step: '0.05', value: String(diffOpacity), 'data-testid': 'diff-opacity' });
  const legend = el('canvas', { width: '256', height: '14', 'data-testid': 'diff-legend' });
  const ticks = el('div', { class: 'diff-ticks', 'data-testid': 'diff-ticks' });
  const l1 = el('label');
  l1.append(doseBox, ' dose overlay');
  const l2 = el('label');
  l2.append('difference range ± ', rangeInput, ' Gy');
  const l3 = el('label');
  l3.append('difference opacity ', opacityInput);
  controls.replaceChildren(l1, l2, l3, el('span', {}, `achieved − planned${cj.difference?.source === 'computed' ? ' (computed here: achieved resampled onto the planned grid)' : ''}`), legend, ticks);
  const sidesEl = el('div', { class: 'compare-sides' });
  root.append(controls, sidesEl);

  const sides: SideUi[] = [];
  for (const side of SIDES) {
    const c = cj[side];
    const box = el('section', { class: 'compare-side', 'data-testid': 'compare-side', 'data-side': side });
    const toggle = el('input', { type: 'checkbox', 'data-testid': 'diff-toggle', 'data-side': side });
    (toggle as HTMLInputElement).checked = side === 'achieved' && !!diff;
    if (!diff) toggle.setAttribute('disabled', '');
    const head = el('header');
    const tl = el('label');
    tl.append(toggle, ' difference overlay');
    head.append(el('strong', {}, `${side}: ${c.caseName}`), el('span', {}, ` ${c.report.isotope} · ${c.report.method} · ${fmt(c.report.activityInFieldGBq, 3)} GBq `), tl);
    const viewsEl = el('div', { class: 'compare-views', 'data-testid': 'view-set', 'data-side': side });
    const views = VIEW_NAMES.map((view) => {
      const vb = el('div', { class: 'view' });
      const canvas = el('canvas', { width: String(size), height: String(size), 'data-testid': 'slice-canvas', 'data-view': view, 'data-side': side });
      const dcan = el('canvas', { width: String(size), height: String(size), class: 'diff', 'data-testid': 'diff-canvas', 'data-view': view, 'data-side': side });
      const overlay = el('canvas', { width: String(size), height: String(size), class: 'overlay', 'data-view': view, 'data-side': side, tabindex: '0' });
      vb.append(canvas, dcan, overlay, el('span', { class: 'tag' }, view));
      viewsEl.append(vb);
      return { view, canvas, diff: dcan, overlay };
    });
    const readout = el('div', { class: 'readout', 'data-testid': 'compare-readout', 'data-side': side });
    box.append(head, viewsEl, readout);
    sidesEl.append(box);
    const vols = sceneOf[side];
    const structureNames = (p: Lps) => {
      const bits = vols.labels ? sampleAt(vols.labels, p) ?? 0 : 0;
      return c.structures.filter((s) => s.bit >= 0 && bits & (1 << s.bit)).map((s) => s.name);
    };
    const ui: SideUi = { side, vols, renderer: makeRenderer(vols), views, readout, showDifference: (toggle as HTMLInputElement).checked, structureNames };
    toggle.addEventListener('change', () => {
      ui.showDifference = (toggle as HTMLInputElement).checked;
      requestRender();
    });
    sides.push(ui);
  }

  // Matched structures.
  const table = el('table', { id: 'compare-structures', 'data-testid': 'compare-structures' });
  const thead = el('thead');
  const hr = el('tr');
  for (const h of ['structure', 'role', 'planned MAD Gy', 'achieved MAD Gy', 'difference Gy']) hr.append(el('th', {}, h));
  thead.append(hr);
  const tbody = el('tbody');
  for (const r of cj.rows as CompareRowJson[]) {
    const tr = el('tr', { 'data-testid': 'compare-row', 'data-name': r.name });
    tr.append(
      el('td', {}, r.name), el('td', {}, r.role),
      el('td', { class: 'planned' }, fmt(r.plannedGy)), el('td', { class: 'achieved' }, fmt(r.achievedGy)),
      el('td', { class: 'difference' }, `${r.differenceGy > 0 ? '+' : ''}${fmt(r.differenceGy)}`),
    );
    tbody.append(tr);
  }
  table.append(thead, tbody);
  root.append(table);
  document.body.append(root);

  function drawLegend(): void {
    const ctx = legend.getContext('2d')!;
    const img = ctx.createImageData(256, 14);
    for (let x = 0; x < 256; x++) {
      const rgb = divergingRgb(((x + 0.5) / 256) * 2 * rangeGy - rangeGy, rangeGy);
      for (let y = 0; y < 14; y++) img.data.set([...rgb, 255], 4 * (x + 256 * y));
    }
    ctx.putImageData(img, 0, 0);
    legend.dataset.rangeGy = String(rangeGy);
    ticks.replaceChildren(...[-1, -0.5, 0, 0.5, 1].map((t) => el('span', {}, `${t > 0 ? '+' : ''}${+(t * rangeGy).toPrecision(3)}`)));
    ticks.lastElementChild!.textContent += ' Gy';
  }

  /** Paints the difference overlay of one view: pixels with |difference| >= 1 % of the range, at the opacity set. */
  function drawDifference(canvas: HTMLCanvasElement, m: ReturnType<typeof pixelToLps>, on: boolean): void {
    const ctx = canvas.getContext('2d')!;
    ctx.clearRect(0, 0, size, size);
    if (!on || !diff) return;
    const vals = samplePlane(diff, m, size, size, new Float32Array(size * size), Number.NaN);
    const img = ctx.createImageData(size, size);
    const alpha = Math.round(255 * diffOpacity);
    const floorGy = 0.01 * rangeGy;
    for (let p = 0; p < vals.length; p++) {
      const d = vals[p];
      if (!(Math.abs(d) >= floorGy)) continue; // NaN (no data) and near-zero stay clear
      const rgb = divergingRgb(d, rangeGy);
      img.data[4 * p] = rgb[0];
      img.data[4 * p + 1] = rgb[1];
      img.data[4 * p + 2] = rgb[2];
      img.data[4 * p + 3] = alpha;
    }
    ctx.putImageData(img, 0, 0);
  }

  function drawCrosshair(v: SideUi['views'][number], m: ReturnType<typeof pixelToLps>): void {
    const ctx = v.overlay.getContext('2d')!;
    ctx.clearRect(0, 0, size, size);
    const [x, y] = lpsToCanvas(v.view, m, nav.crosshair);
    ctx.strokeStyle = 'rgba(255,255,0,0.8)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x, 0); ctx.lineTo(x, y - 6); ctx.moveTo(x, y + 6); ctx.lineTo(x, size);
    ctx.moveTo(0, y); ctx.lineTo(x - 6, y); ctx.moveTo(x + 6, y); ctx.lineTo(size, y);
    ctx.stroke();
  }

  function updateReadout(ui: SideUi): void {
    const p = nav.crosshair;
    const hu = ui.vols.ct ? sampleAt(ui.vols.ct, p) : undefined;
    const dose = ui.vols.dose ? sampleAt(ui.vols.dose, p) : undefined;
    const d = diff ? sampleAt(diff, p) : undefined;
    const names = ui.structureNames(p);
    const r = ui.readout;
    r.dataset.lps = p.map((x) => x.toFixed(2)).join(',');
    r.dataset.doseGy = dose === undefined ? '' : String(dose);
    r.dataset.diffGy = d === undefined || Number.isNaN(d) ? '' : String(d);
    r.dataset.structures = names.join('|');
    r.textContent = [
      `LPS      ${p.map((x) => x.toFixed(1)).join(', ')} mm`,
      `CT       ${hu === undefined ? '–' : fmt(hu, 0) + ' HU'}`,
      `dose     ${dose === undefined ? '–' : fmt(dose, 2) + ' Gy'}`,
      `achieved − planned ${d === undefined || Number.isNaN(d) ? '–' : `${d > 0 ? '+' : ''}${fmt(d, 2)} Gy`}`,
      `in       ${names.join(', ') || '–'}`,
    ].join('\n');
  }

  const matrices = () => new Map(VIEW_NAMES.map((v) => [v, pixelToLps(v, nav, size, size)]));
  async function renderFrame(): Promise<void> {
    const m = matrices();
    await Promise.all(sides.map((ui) => ui.renderer.render(ui.views.map((v) => ({ view: v.view, canvas: v.canvas, pixToLps: m.get(v.view)! })), settings[ui.side])));
    for (const ui of sides) {
      for (const v of ui.views) {
        drawDifference(v.diff, m.get(v.view)!, ui.showDifference);
        drawCrosshair(v, m.get(v.view)!);
      }
      updateReadout(ui);
    }
    hooks.renders++;
    document.body.dataset.renders = String(hooks.renders);
  }
  let pending: Promise<void> | null = null;
  let dirty = false;
  function requestRender(): void {
    if (pending) {
      dirty = true;
      return;
    }
    pending = new Promise<void>((ok) => requestAnimationFrame(() => ok()))
      .then(renderFrame)
      .catch((err: Error) => {
        hooks.error = err.message;
        warn.textContent = `render failed: ${err.message}`;
      })
      .finally(() => {
        pending = null;
        if (dirty) {
          dirty = false;
          requestRender();
        }
      });
  }
  async function renderNow(): Promise<number> {
    while (pending) await pending;
    const t0 = performance.now();
    await renderFrame();
    await Promise.all(sides.map((s) => s.renderer.settle()));
    return performance.now() - t0;
  }

  // Controls.
  doseBox.addEventListener('change', () => {
    for (const s of SIDES) settings[s].showDose = (doseBox as HTMLInputElement).checked;
    requestRender();
  });
  rangeInput.addEventListener('change', () => {
    const v = Number((rangeInput as HTMLInputElement).value);
    if (v > 0 && Number.isFinite(v)) rangeGy = v;
    (rangeInput as HTMLInputElement).value = String(rangeGy);
    drawLegend();
    requestRender();
  });
  opacityInput.addEventListener('input', () => {
    diffOpacity = Math.min(1, Math.max(0, Number((opacityInput as HTMLInputElement).value)));
    requestRender();
  });

  // Mouse: a click or drag in any view of either side moves the one crosshair (LPS); the wheel steps slices.
  for (const ui of sides) {
    for (const v of ui.views) {
      let dragging = false;
      const at = (ev: MouseEvent): [number, number] => {
        const r = v.overlay.getBoundingClientRect();
        return [((ev.clientX - r.left) * size) / r.width, ((ev.clientY - r.top) * size) / r.height];
      };
      const point = (ev: MouseEvent) => {
        const [x, y] = at(ev);
        nav.crosshair = canvasToLps(pixelToLps(v.view, nav, size, size), x, y);
        requestRender();
      };
      v.overlay.addEventListener('mousedown', (ev) => {
        dragging = true;
        point(ev);
      });
      v.overlay.addEventListener('mousemove', (ev) => dragging && point(ev));
      window.addEventListener('mouseup', () => (dragging = false));
      v.overlay.addEventListener(
        'wheel',
        (ev) => {
          ev.preventDefault();
          const n = VIEW_AXES[v.view].normal;
          const s = ev.deltaY < 0 ? 1 : -1;
          nav.crosshair = [0, 1, 2].map((a) => nav.crosshair[a] + s * sliceStepMm * n[a]) as Lps;
          requestRender();
        },
        { passive: false },
      );
    }
  }

  const backend = sides[0].renderer.backend;
  (document.getElementById('backend') as HTMLElement).textContent = backend;
  (document.getElementById('case-meta') as HTMLElement).textContent = `planned ${cj.planned.caseName} · achieved ${cj.achieved.caseName}`;
  warn.textContent = warnings.join(' · ');
  drawLegend();
  hooks.backend = backend;
  hooks.renderNow = renderNow;
  hooks.crosshair = () => [...nav.crosshair];
  hooks.nav = () => ({ mmPerPx: nav.mmPerPx, centre: [...nav.centre] });
  hooks.pixelOf = (view, p) => lpsToCanvas(view, pixelToLps(view, nav, size, size), p);
  hooks.setCrosshair = async (p) => {
    nav.crosshair = [...p];
    await renderNow();
  };
  const compare: CompareHooks = {
    differenceAt: (p) => (diff ? sampleAt(diff, p) : undefined),
    rangeGy: () => rangeGy,
    setDifference: async (side, on) => {
      const ui = sides.find((s) => s.side === side)!;
      ui.showDifference = on;
      (document.querySelector(`[data-testid="diff-toggle"][data-side="${side}"]`) as HTMLInputElement).checked = on;
      await renderNow();
    },
    pixelOf: hooks.pixelOf,
  };
  (hooks as unknown as { compare: CompareHooks }).compare = compare;
  await renderNow();
  hooks.firstImageMs = performance.now();
  hooks.caseName = cj.name;
  hooks.cases++;
  document.body.dataset.case = String(hooks.cases);
  hooks.ready = true;
  document.body.dataset.ready = '1';
}
