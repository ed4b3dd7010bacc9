/**
 * The viewer page: loads the case from its server, picks a back end (?backend=webgpu|cpu|auto; WebGPU when an
 * adapter exists), draws axial/coronal/sagittal views with a linked crosshair, the structure table, the DVH, the
 * activity slider (dose is linear in activity: every dose and dose-derived number scales by A / A_reported) and the
 * exports. Nothing is fetched from anywhere but the page's own server.
 */
import { COLORMAP, ISODOSE_COLORS } from './colormap.ts';
import { drawDvh, niceCeil, scaledVx } from './dvh.ts';
import type { DisplaySettings, SceneVolumes, SliceRenderer, ViewTarget } from './renderer.ts';
import { DEFAULT_UNCERTAINTY_MAX_PERCENT, MAX_ISODOSE_LEVELS } from './renderer.ts';
import { createCpuRenderer, renderSliceCpu } from './render-cpu.ts';
import { createGpuRenderer, requestGpuDevice } from './render-gpu.ts';
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
import type { ModeJson, ReportJson, ReportStructureJson, StructureEntry } from '../protocol.ts';
import { type ViewerCase, loadServerCase } from './case-data.ts';
import { showCohort } from './cohort.ts';
import { showCompare } from './compare-view.ts';
import { setupDrop } from './drop-ui.ts';
import { DEVICES, DEVICE_LABELS, type DeviceBounds, type Device, defaultDevice, describeBounds, deviceBounds } from './limits.ts';
import { type TerritoryController, createTerritoryPanel } from './territory-panel.ts';
import { combineDoseCpu } from './territories.ts';

/** Relative tolerance of the limit and target flags (the planner's: src/plan checks limits to 1e-6 relative). */
const FLAG_TOLERANCE = 1e-6;

/** CT window presets [HU]. */
const WINDOWS: Record<string, { centreHu: number; widthHu: number }> = {
  abdomen: { centreHu: 40, widthHu: 400 },
  liver: { centreHu: 60, widthHu: 160 },
  lung: { centreHu: -600, widthHu: 1500 },
  bone: { centreHu: 300, widthHu: 2000 },
};


const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

interface ViewUi {
  view: ViewName;
  canvas: HTMLCanvasElement;
  overlay: HTMLCanvasElement;
}

/** Test and benchmark hooks, on window.__viewer. */
export interface ViewerHooks {
  ready: boolean;
  backend: string;
  renders: number;
  /** Draws now and waits until the frame is done; returns milliseconds. */
  renderNow(): Promise<number>;
  /** Moves the crosshair one slice along the axial normal and redraws; returns ms. */
  stepSlice(view: ViewName, steps: number): Promise<number>;
  /** Sets the activity [GBq] and redraws; returns ms. */
  setActivity(gbq: number): Promise<number>;
  crosshair(): Lps;
  /**
   * Compares each drawn view with the CPU oracle (renderSliceCpu) at the current state: the largest channel
   * difference and the fraction of pixels differing by more than `tolerance` levels.
   */
  compareWithCpu(tolerance: number): Promise<{ maxDiff: number; fractionOver: number; pixels: number }>;
  /** ms from navigation start to the first drawn frame. */
  firstImageMs: number;
  /** Name of the case shown and how many cases were shown so far (a dropped case makes it 2). */
  caseName: string;
  cases: number;
  /** The report shown (for checks against numbers). */
  report?: ReportJson;
  /** Zoom [mm per px] and view centre (LPS mm). */
  nav(): { mmPerPx: number; centre: Lps };
  /** Canvas pixel (x, y) of an LPS point in a view. */
  pixelOf(view: ViewName, p: Lps): [number, number];
  /** Moves the crosshair to an LPS point [mm] and redraws. */
  setCrosshair(p: Lps): Promise<void>;
  /**
   * Multi-territory plans: sets every territory's activity [GBq] (report order), recomputes and redraws; returns ms
   * (numbers, dose sum and drawing). Rejects for a case without territories.
   */
  setTerritoryActivities(gbq: number[]): Promise<number>;
  /** ms of the last setTerritoryActivities without drawing: means, voxel DVHs and the dose sum (GPU work finished). */
  territoryUpdateMs(): number;
  /**
   * Multi-territory plans: the dose the renderer draws from (WebGPU: read back from its texture) against the CPU
   * oracle combineDoseCpu at the current activities: largest absolute [Gy] and relative difference.
   */
  compareDoseWithCpu(): Promise<{ maxAbsDiffGy: number; maxRelDiff: number; voxels: number }>;
  error?: string;
}

declare global {
  interface Window {
    __viewer: ViewerHooks;
  }
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** A case name as a file name stem (letters, digits, dot, dash, underscore). */
function fileStem(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'case';
}

function download(name: string, blob: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** Per-page state kept across cases: the hooks, the GPU device, the requested back end. */
const params = new URLSearchParams(location.search);
const wantBackend = params.get('backend') ?? 'auto';
const sizePx = Math.max(64, Math.min(1024, Number(params.get('size')) || 320));
let gpuDevice: Promise<GPUDevice | undefined> | undefined;
let current: { renderer: SliceRenderer; abort: AbortController } | undefined;
let caseTemplate = '';

function newHooks(): ViewerHooks {
  return {
    ready: false,
    backend: '',
    renders: 0,
    caseName: '',
    cases: 0,
    firstImageMs: NaN,
    renderNow: async () => NaN,
    stepSlice: async () => NaN,
    setActivity: async () => NaN,
    crosshair: () => [0, 0, 0],
    nav: () => ({ mmPerPx: NaN, centre: [0, 0, 0] }),
    pixelOf: () => [NaN, NaN],
    setCrosshair: async () => {},
    setTerritoryActivities: async () => {
      throw new Error('this case has no territories');
    },
    territoryUpdateMs: () => NaN,
    compareDoseWithCpu: async () => {
      throw new Error('this case has no territories');
    },
    compareWithCpu: async () => ({ maxDiff: NaN, fractionOver: NaN, pixels: 0 }),
  };
}

/**
 * Shows a case: builds the views, table, DVH and controls afresh (the case panel is reset from its template, so
 * nothing of a previous case stays attached), picks the back end, draws the first frame.
 */
async function showCase(vc: ViewerCase): Promise<void> {
  const hooks = window.__viewer;
  current?.abort.abort();
  current?.renderer.destroy?.();
  current = undefined;
  $('case-view').innerHTML = caseTemplate;
  $('case-view').hidden = false;
  $('cohort-view').hidden = true;
  const abort = new AbortController();
  const signal = abort.signal;
  const report = vc.report;
  $('case-name').textContent = vc.caseName;
  $('case-meta').textContent = `${report.isotope} · ${report.method} · computed on ${report.backend}`;
  $('warnings').textContent = vc.warnings.join(' · ');
  const labels = vc.labels;
  // A multi-territory plan: one slider per territory; the drawn dose is sum_t A_t x map_t (territory-panel.ts).
  const terr: TerritoryController | undefined = createTerritoryPanel({
    vc,
    onChange: (draw) => {
      updateNumbers();
      if (draw) requestRender();
    },
  });
  // Monte Carlo: the uncertainty overlay (the relative standard error of the case's own dose; not under live territory
  // sliders, whose sum has another relative error)
  const doseRelStdErr = vc.doseRelStdErr && !terr?.live ? vc.doseRelStdErr : undefined;
  const vols: SceneVolumes = terr?.live ? { ct: vc.ct, dose: terr.dose, labels, doseTerms: terr.doseTerms } : { ct: vc.ct, dose: vc.dose, labels, ...(doseRelStdErr ? { doseRelStdErr } : {}) };
  const units = vc.units;
  const loaded = { activity: vc.activity };
  const caseJson = { caseName: vc.caseName, warnings: vc.warnings, structures: vc.structures };

  // Back end.
  let renderer: SliceRenderer | undefined;
  const notes: string[] = [];
  if (wantBackend !== 'cpu') {
    try {
      let why = 'no WebGPU adapter: CPU rendering';
      gpuDevice ??= requestGpuDevice({ allowSoftware: wantBackend === 'webgpu', why: (r) => (why = r) });
      const device = await gpuDevice;
      if (device) renderer = createGpuRenderer(device, vols);
      else notes.push(why);
    } catch (err) {
      gpuDevice = undefined;
      notes.push(`WebGPU failed (${(err as Error).message}): CPU rendering`);
    }
  }
  renderer ??= createCpuRenderer(vols);
  await terr?.attach(renderer);
  current = { renderer, abort };
  hooks.backend = renderer.backend;
  $('backend').textContent = renderer.backend;
  if (notes.length) $('warnings').textContent = [...caseJson.warnings, ...notes].join(' · ');

  // Navigation state.
  const base = vols.ct ?? vols.dose;
  const bounds = base ? gridBounds(base.grid) : { centre: [0, 0, 0] as Lps, extentMm: 300 };
  const nav: NavState = { crosshair: [...bounds.centre], centre: [...bounds.centre], mmPerPx: bounds.extentMm / sizePx };
  const sliceStepMm = base ? Math.min(...base.grid.spacingMm) : 1;
  const reportedGBq = report.activityInFieldGBq;
  let activityGBq = reportedGBq;
  const structs = caseJson.structures;
  const maxReportGy = Math.max(0, ...report.structures.map((s) => Number(s.maxGy) || s.meanGy || 0));
  let doseMax = maxReportGy;
  if (vols.dose) for (const v of vols.dose.data) if (v > doseMax) doseMax = v;
  const settings: DisplaySettings = {
    ...{ windowCentreHu: 40, windowWidthHu: 400 },
    doseScale: 1,
    colorMaxGy: niceCeil(doseMax || 100),
    thresholdGy: 5,
    opacity: 0.5,
    showDose: true,
    overlay: 'dose',
    uncertaintyMaxPercent: DEFAULT_UNCERTAINTY_MAX_PERCENT,
    isodoseGy: [50, 100, 150, 205],
    visibleMask: 0,
    structureColors: [],
  };
  for (const s of structs) {
    if (s.bit >= 0) {
      settings.visibleMask |= 1 << s.bit;
      settings.structureColors[s.bit] = s.colorRgb;
    }
  }
  settings.visibleMask >>>= 0;
  const dvhChosen = new Set(structs.filter((s) => ['tumor', 'normal-liver', 'lung'].includes(s.role)).map((s) => s.index));
  let showCrosshair = true;

  // Views.
  const viewsEl = $('views');
  const views: ViewUi[] = VIEW_NAMES.map((view) => {
    const box = document.createElement('div');
    box.className = 'view';
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = sizePx;
    canvas.dataset.testid = 'slice-canvas';
    canvas.setAttribute('data-testid', 'slice-canvas');
    canvas.dataset.view = view;
    const overlay = document.createElement('canvas');
    overlay.width = overlay.height = sizePx;
    overlay.className = 'overlay';
    overlay.dataset.view = view;
    overlay.tabIndex = 0;
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = view;
    box.append(canvas, overlay, tag);
    viewsEl.append(box);
    return { view, canvas, overlay };
  });
  let activeView: ViewName = 'axial';

  const matrices = () => new Map(views.map((v) => [v.view, pixelToLps(v.view, nav, sizePx, sizePx)]));

  function drawOverlays(m: Map<ViewName, ReturnType<typeof pixelToLps>>): void {
    for (const v of views) {
      const ctx = v.overlay.getContext('2d')!;
      ctx.clearRect(0, 0, sizePx, sizePx);
      if (!showCrosshair) continue;
      const [x, y] = lpsToCanvas(v.view, m.get(v.view)!, nav.crosshair);
      ctx.strokeStyle = 'rgba(255,255,0,0.8)';
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, y - 6);
      ctx.moveTo(x, y + 6);
      ctx.lineTo(x, sizePx);
      ctx.moveTo(0, y);
      ctx.lineTo(x - 6, y);
      ctx.moveTo(x + 6, y);
      ctx.lineTo(sizePx, y);
      ctx.stroke();
    }
  }

  function updateReadout(): void {
    const p = nav.crosshair;
    const hu = vols.ct ? sampleAt(vols.ct, p) : undefined;
    const act = loaded.activity ? sampleAt(loaded.activity, p) : undefined;
    const dose = terr?.live ? terr.doseAt(p) : vols.dose ? sampleAt(vols.dose, p) : undefined;
    // Monte Carlo: the voxel's relative standard error (unchanged by the activity scaling)
    const rel = doseRelStdErr ? sampleAt(doseRelStdErr, p) : undefined;
    const bits = labels ? sampleAt(labels, p) ?? 0 : 0;
    const names = structs.filter((s) => s.bit >= 0 && bits & (1 << s.bit)).map((s) => s.name);
    const actScaled = act === undefined ? undefined : units.activity === 'counts' ? act : act * settings.doseScale;
    const r = $('readout');
    r.dataset.lps = p.map((x) => x.toFixed(2)).join(',');
    r.dataset.structures = names.join('|');
    r.dataset.doseGy = dose === undefined ? '' : String(dose * settings.doseScale);
    r.dataset.doseRelStdErr = rel === undefined ? '' : String(rel);
    r.textContent = [
      `LPS     ${p.map((x) => x.toFixed(1)).join(', ')} mm`,
      `CT      ${hu === undefined ? '–' : fmt(hu, 0) + ' HU'}`,
      `activity ${actScaled === undefined ? '–' : actScaled.toPrecision(4) + ' ' + units.activity}`,
      `dose    ${dose === undefined ? '–' : fmt(dose * settings.doseScale, 2) + ' Gy'}${rel !== undefined && dose ? ` ± ${fmt(100 * rel, 1)} % (MC)` : ''}`,
      `in      ${names.join(', ') || '–'}`,
    ].join('\n');
  }

  // Rendering: at most one frame in flight; changes during a frame trigger one more.
  let pending: Promise<void> | null = null;
  let dirty = false;
  async function renderFrame(): Promise<void> {
    const m = matrices();
    const targets: ViewTarget[] = views.map((v) => ({ view: v.view, canvas: v.canvas, pixToLps: m.get(v.view)! }));
    await renderer!.render(targets, settings);
    drawOverlays(m);
    updateReadout();
    hooks.renders++;
    document.body.dataset.renders = String(hooks.renders);
  }
  function requestRender(): void {
    if (pending) {
      dirty = true;
      return;
    }
    pending = new Promise<void>((ok) => requestAnimationFrame(() => ok()))
      .then(renderFrame)
      .catch((err: Error) => {
        hooks.error = err.message;
        $('warnings').textContent = `render failed: ${err.message}`;
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
    await renderer!.settle();
    return performance.now() - t0;
  }

  // Structure table.
  const tbody = document.querySelector('#structures tbody') as HTMLTableSectionElement;
  const rowOf = new Map<number, HTMLTableRowElement>();
  for (const e of structs) {
    const s = report.structures[e.index];
    const tr = document.createElement('tr');
    tr.setAttribute('data-testid', 'structure-row');
    tr.dataset.name = s.name;
    tr.dataset.role = s.role;
    const c = `rgb(${e.colorRgb.join(',')})`;
    tr.innerHTML =
      `<td><span class="swatch" style="background:${c}"></span><span class="name"></span></td><td>${s.role}</td>` +
      `<td class="vol">${fmt(s.volumeMl)}</td><td class="mad" data-testid="mad"></td><td class="d70"></td><td class="v100"></td><td class="v205"></td><td class="limit"></td>` +
      `<td><input type="checkbox" class="outline" ${e.bit >= 0 ? 'checked' : 'disabled'}></td>` +
      `<td><input type="checkbox" class="dvh" ${dvhChosen.has(e.index) ? 'checked' : ''}></td>`;
    (tr.querySelector('.name') as HTMLElement).textContent = s.name;
    tr.addEventListener('click', (ev) => {
      if ((ev.target as HTMLElement).tagName === 'INPUT') return;
      centreOn(e);
    });
    (tr.querySelector('.outline') as HTMLInputElement).addEventListener('change', (ev) => {
      const on = (ev.target as HTMLInputElement).checked;
      if (e.bit >= 0) settings.visibleMask = (on ? settings.visibleMask | (1 << e.bit) : settings.visibleMask & ~(1 << e.bit)) >>> 0;
      requestRender();
    });
    (tr.querySelector('.dvh') as HTMLInputElement).addEventListener('change', (ev) => {
      if ((ev.target as HTMLInputElement).checked) dvhChosen.add(e.index);
      else dvhChosen.delete(e.index);
      updateNumbers();
    });
    tbody.append(tr);
    rowOf.set(e.index, tr);
  }

  function centreOn(e: StructureEntry): void {
    if (!e.centroidLps) return;
    nav.crosshair = [...e.centroidLps];
    nav.centre = [...e.centroidLps];
    requestRender();
  }

  // Limits and targets: the selected device's (limits.ts); the default is the case's device or isotope.
  const limitSelect = $('limits-preset') as HTMLSelectElement;
  limitSelect.replaceChildren(
    ...DEVICES.map((d) => {
      const o = document.createElement('option');
      o.value = d;
      o.textContent = DEVICE_LABELS[d];
      return o;
    }),
  );
  let limitBounds: DeviceBounds = deviceBounds(defaultDevice(report), report);
  limitSelect.value = limitBounds.device;
  function showBounds(): void {
    const lines = describeBounds(limitBounds);
    const text = Object.entries(limitBounds.byRole)
      .map(([role, b]) => `${role} ${b.kind === 'limit' ? '<' : '≥'} ${b.gy}`)
      .join(' · ');
    const tip = [`${DEVICE_LABELS[limitBounds.device]} (${limitBounds.source}):`, ...lines].join('\n');
    const vals = $('limits-values');
    vals.textContent = text ? `${text} Gy (mean)` : 'no limits';
    vals.title = tip;
    limitSelect.title = tip;
    $('limit-head').title = tip;
    $('limits').dataset.device = limitBounds.device;
    for (const e of structs) {
      const tr = rowOf.get(e.index)!;
      const b = limitBounds.byRole[report.structures[e.index].role];
      const cell = tr.querySelector('.limit') as HTMLElement;
      cell.textContent = b ? `${b.kind === 'limit' ? '<' : '≥'} ${b.gy}` : '';
      cell.title = b ? `${b.what}, ${DEVICE_LABELS[limitBounds.device]}` : '';
      if (b) tr.dataset.boundGy = String(b.gy);
      else delete tr.dataset.boundGy;
    }
  }
  showBounds();
  limitSelect.addEventListener('change', () => {
    limitBounds = deviceBounds(limitSelect.value as Device, report);
    showBounds();
    updateNumbers();
  });

  function scaledRows(): Array<{ e: StructureEntry; s: ReportStructureJson; mad: number; d70: number; v100: number; v205: number; limit?: number; target?: number }> {
    const f = settings.doseScale;
    return structs.map((e) => {
      const s = report.structures[e.index];
      const b = limitBounds.byRole[s.role];
      if (terr) {
        // at the territories' activities: means from the report's per-GBq means, DVH numbers from the combined map
        const t = terr.row(e.index);
        return { e, s: t.structure, mad: t.meanGy, d70: t.d70Gy, v100: t.v100, v205: t.v205, limit: b?.kind === 'limit' ? b.gy : undefined, target: b?.kind === 'target' ? b.gy : undefined };
      }
      return {
        e,
        s,
        mad: s.meanGy * f,
        d70: s.d70Gy * f,
        v100: scaledVx(s, 100, s.v100, f),
        v205: scaledVx(s, 205, s.v205, f),
        limit: b?.kind === 'limit' ? b.gy : undefined,
        target: b?.kind === 'target' ? b.gy : undefined,
      };
    });
  }

  function updateNumbers(): void {
    const rows = scaledRows();
    const exceeded: string[] = [];
    const under: string[] = [];
    const device = DEVICE_LABELS[limitBounds.device];
    for (const r of rows) {
      const tr = rowOf.get(r.e.index)!;
      // Monte Carlo: the mean with its relative standard error (batch method; unchanged by the activity scaling)
      const rel = r.s.meanGyRelStdErr;
      const madCell = tr.querySelector('.mad') as HTMLElement;
      madCell.textContent = typeof rel === 'number' && Number.isFinite(rel) ? `${fmt(r.mad)} ± ${fmt(100 * rel, rel < 0.001 ? 2 : 1)} %` : fmt(r.mad);
      if (typeof rel === 'number') madCell.dataset.relStdErr = String(rel);
      madCell.title = typeof rel === 'number' ? 'mean absorbed dose ± its relative standard error (Monte Carlo, batch method)' : '';
      (tr.querySelector('.d70') as HTMLElement).textContent = fmt(r.d70);
      (tr.querySelector('.v100') as HTMLElement).textContent = fmt(100 * r.v100);
      (tr.querySelector('.v205') as HTMLElement).textContent = fmt(100 * r.v205);
      // 1e-6 relative, the planner's tolerance: a dose map's float32 mean of a lesion planned exactly at its target
      // reads 204.99998 Gy, which is the target met, not missed
      const over = r.limit !== undefined && r.mad > r.limit * (1 + FLAG_TOLERANCE);
      tr.classList.toggle('exceeded', over);
      if (over) exceeded.push(`${r.s.name}: mean ${fmt(r.mad)} Gy exceeds the ${r.limit} Gy ${device} limit for ${r.s.role}`);
      const below = r.target !== undefined && r.mad < r.target * (1 - FLAG_TOLERANCE);
      tr.classList.toggle('under-target', below);
      if (below) under.push(`${r.s.name}: mean ${fmt(r.mad)} Gy is under the ${r.target} Gy ${device} tumour target`);
    }
    const line = (t: string, cls: string) => {
      const d = document.createElement('div');
      d.textContent = t;
      if (cls) d.className = cls;
      return d;
    };
    const lim = $('limits');
    lim.replaceChildren(
      ...(exceeded.length ? exceeded.map((t) => line(t, 'exceeded')) : [line('no dose limit exceeded', '')]),
      ...under.map((t) => line(t, 'under-target')),
    );
    lim.dataset.exceeded = String(exceeded.length);
    lim.dataset.underTarget = String(under.length);
    drawDvh(
      $('dvh') as unknown as SVGSVGElement,
      rows.filter((r) => dvhChosen.has(r.e.index)).map((r) => ({ s: r.s, colorRgb: r.e.colorRgb })),
      terr ? 1 : settings.doseScale,
    );
    if (terr) {
      activityGBq = terr.totalGBq();
      terr.showSummary(exceeded, under);
    }
  }

  // Legend.
  function drawLegend(): void {
    const c = $('legend') as HTMLCanvasElement;
    const ctx = c.getContext('2d')!;
    const img = ctx.createImageData(256, c.height);
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < 256; x++) {
        const o = 4 * (x + 256 * y);
        img.data.set([COLORMAP[3 * x], COLORMAP[3 * x + 1], COLORMAP[3 * x + 2], 255], o);
      }
    }
    ctx.putImageData(img, 0, 0);
    // the uncertainty overlay has its own colour bar: relative standard error 0..uncertaintyMaxPercent [%]
    const unc = settings.overlay === 'uncertainty';
    const top = unc ? settings.uncertaintyMaxPercent ?? DEFAULT_UNCERTAINTY_MAX_PERCENT : settings.colorMaxGy;
    c.dataset.kind = unc ? 'uncertainty' : 'dose';
    c.dataset.maxGy = String(settings.colorMaxGy);
    if (unc) c.dataset.maxPercent = String(top);
    else delete c.dataset.maxPercent;
    c.title = unc ? 'relative standard error of the dose (Monte Carlo, batch method) [%]' : 'absorbed dose [Gy]';
    const ticks = $('legend-ticks');
    ticks.replaceChildren(
      ...[0, 0.25, 0.5, 0.75, 1].map((t) => {
        const s = document.createElement('span');
        s.textContent = `${+(t * top).toFixed(1)}`;
        return s;
      }),
    );
    ticks.lastElementChild!.textContent += unc ? ' % (MC rel. std. error)' : ' Gy';
    $('isodose-key').replaceChildren(
      ...settings.isodoseGy.map((g, i) => {
        const s = document.createElement('span');
        s.style.color = `rgb(${ISODOSE_COLORS[i].join(',')})`;
        s.textContent = `— ${g} Gy`;
        return s;
      }),
    );
  }

  // Controls.
  const preset = $('wl-preset') as HTMLSelectElement;
  const applyPreset = () => {
    const w = WINDOWS[preset.value] ?? WINDOWS.abdomen;
    settings.windowCentreHu = w.centreHu;
    settings.windowWidthHu = w.widthHu;
    requestRender();
  };
  preset.addEventListener('change', applyPreset);
  applyPreset();
  const bindNumber = (id: string, apply: (v: number) => void) => {
    const inp = $(id) as HTMLInputElement;
    const on = () => {
      const v = Number(inp.value);
      if (Number.isFinite(v)) {
        apply(v);
        drawLegend();
        requestRender();
      }
    };
    inp.addEventListener('input', on);
    inp.addEventListener('change', on);
    return inp;
  };
  bindNumber('opacity', (v) => (settings.opacity = Math.min(1, Math.max(0, v))));
  bindNumber('threshold', (v) => (settings.thresholdGy = Math.max(0, v)));
  const colorMax = bindNumber('color-max', (v) => (settings.colorMaxGy = v > 0 ? v : settings.colorMaxGy));
  colorMax.value = String(settings.colorMaxGy);
  // Monte Carlo cases only: the overlay colours the dose or its relative standard error (own colour bar, 0-20 %)
  if (vols.doseRelStdErr) {
    $('overlay-kind-box').hidden = false;
    const kind = $('overlay-kind') as HTMLSelectElement;
    kind.addEventListener('change', () => {
      settings.overlay = kind.value === 'uncertainty' ? 'uncertainty' : 'dose';
      drawLegend();
      requestRender();
    });
    bindNumber('unc-max', (v) => (settings.uncertaintyMaxPercent = v > 0 ? v : settings.uncertaintyMaxPercent));
  } else {
    $('overlay-kind-box').remove();
  }
  ($('show-dose') as HTMLInputElement).addEventListener('change', (ev) => {
    settings.showDose = (ev.target as HTMLInputElement).checked;
    requestRender();
  });
  ($('show-outlines') as HTMLInputElement).addEventListener('change', (ev) => {
    const on = (ev.target as HTMLInputElement).checked;
    settings.visibleMask = 0;
    if (on) for (const [i, tr] of rowOf) {
      const e = structs.find((s) => s.index === i)!;
      if (e.bit >= 0 && (tr.querySelector('.outline') as HTMLInputElement).checked) settings.visibleMask |= 1 << e.bit;
    }
    settings.visibleMask >>>= 0;
    requestRender();
  });
  ($('show-crosshair') as HTMLInputElement).addEventListener('change', (ev) => {
    showCrosshair = (ev.target as HTMLInputElement).checked;
    requestRender();
  });
  const iso = $('isodose') as HTMLInputElement;
  iso.addEventListener('change', () => {
    const lv = iso.value
      .split(/[,\s]+/)
      .map(Number)
      .filter((x) => Number.isFinite(x) && x > 0)
      .slice(0, MAX_ISODOSE_LEVELS)
      .sort((a, b) => a - b);
    settings.isodoseGy = lv;
    iso.value = lv.join(',');
    drawLegend();
    requestRender();
  });

  const slider = $('activity-slider') as HTMLInputElement;
  const gbqInput = $('activity-gbq') as HTMLInputElement;
  slider.min = '0';
  slider.max = String(3 * reportedGBq);
  slider.step = String(reportedGBq / 1000);
  const setActivity = (gbq: number, draw = true) => {
    if (!(gbq >= 0) || !(reportedGBq > 0)) return;
    activityGBq = gbq;
    settings.doseScale = activityGBq / reportedGBq;
    slider.value = String(gbq);
    gbqInput.value = gbq.toFixed(3);
    updateNumbers();
    if (draw) requestRender();
  };
  slider.addEventListener('input', () => setActivity(Number(slider.value)));
  gbqInput.addEventListener('change', () => setActivity(Number(gbqInput.value)));
  setActivity(activityGBq);
  // With territories their sliders set the activities; the single activity slider would scale the sum of all of them.
  if (terr) (slider.closest('label') as HTMLElement).hidden = true;

  // Mouse and keyboard.
  for (const v of views) {
    let mode: 'point' | 'pan' | null = null;
    let last: [number, number] = [0, 0];
    const at = (ev: MouseEvent): [number, number] => {
      const r = v.overlay.getBoundingClientRect();
      return [((ev.clientX - r.left) * sizePx) / r.width, ((ev.clientY - r.top) * sizePx) / r.height];
    };
    v.overlay.addEventListener('contextmenu', (ev) => ev.preventDefault());
    v.overlay.addEventListener('mousedown', (ev) => {
      activeView = v.view;
      v.overlay.focus();
      mode = ev.button === 2 || ev.button === 1 || ev.shiftKey ? 'pan' : 'point';
      last = at(ev);
      if (mode === 'point') {
        nav.crosshair = canvasToLps(pixelToLps(v.view, nav, sizePx, sizePx), last[0], last[1]);
        requestRender();
      }
    });
    v.overlay.addEventListener('mousemove', (ev) => {
      if (!mode) return;
      const p = at(ev);
      if (mode === 'point') nav.crosshair = canvasToLps(pixelToLps(v.view, nav, sizePx, sizePx), p[0], p[1]);
      else {
        const { right: r, down: d } = VIEW_AXES[v.view];
        const dx = (p[0] - last[0]) * nav.mmPerPx, dy = (p[1] - last[1]) * nav.mmPerPx;
        nav.centre = [0, 1, 2].map((a) => nav.centre[a] - dx * r[a] - dy * d[a]) as Lps;
      }
      last = p;
      requestRender();
    });
    window.addEventListener('mouseup', () => (mode = null), { signal });
    v.overlay.addEventListener('mouseenter', () => (activeView = v.view));
    v.overlay.addEventListener(
      'wheel',
      (ev) => {
        ev.preventDefault();
        if (ev.ctrlKey) zoom(ev.deltaY < 0 ? 1 / 1.2 : 1.2);
        else step(v.view, ev.deltaY < 0 ? 1 : -1);
      },
      { passive: false },
    );
  }
  function step(view: ViewName, n: number, draw = true): void {
    const nrm = VIEW_AXES[view].normal;
    nav.crosshair = [0, 1, 2].map((a) => nav.crosshair[a] + n * sliceStepMm * nrm[a]) as Lps;
    if (draw) requestRender();
  }
  function zoom(f: number): void {
    nav.mmPerPx *= f;
    requestRender();
  }
  window.addEventListener('keydown', (ev) => {
    if (signal.aborted) return;
    if ((ev.target as HTMLElement).tagName === 'INPUT' || (ev.target as HTMLElement).tagName === 'SELECT') return;
    const k = ev.key;
    if (k === 'ArrowUp' || k === 'PageUp') step(activeView, k === 'PageUp' ? 10 : 1);
    else if (k === 'ArrowDown' || k === 'PageDown') step(activeView, k === 'PageDown' ? -10 : -1);
    else if (k === '+' || k === '=') zoom(1 / 1.2);
    else if (k === '-') zoom(1.2);
    else if (k === 'r') {
      nav.centre = [...bounds.centre];
      nav.crosshair = [...bounds.centre];
      nav.mmPerPx = bounds.extentMm / sizePx;
      requestRender();
    } else return;
    ev.preventDefault();
  }, { signal });

  // Exports.
  $('export-png').addEventListener('click', async () => {
    while (pending) await pending;
    const out = document.createElement('canvas');
    out.width = views.length * sizePx;
    out.height = sizePx;
    const ctx = out.getContext('2d')!;
    const m = matrices();
    // Draw and copy in the same task so a WebGPU canvas still holds its frame.
    void renderer!.render(views.map((v) => ({ view: v.view, canvas: v.canvas, pixToLps: m.get(v.view)! })), settings);
    views.forEach((v, i) => {
      ctx.drawImage(v.canvas, i * sizePx, 0);
      ctx.drawImage(v.overlay, i * sizePx, 0);
    });
    out.toBlob((b) => b && download(`${fileStem(caseJson.caseName)}-views.png`, b), 'image/png');
  });
  $('export-csv').addEventListener('click', () => {
    const q = (x: string) => (/[",\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x);
    const lines = ['name,role,volumeMl,activityGBq,meanGy,d70Gy,v100,v205,limitGy,limitExceeded,targetGy,underTarget,limitsDevice'];
    for (const r of scaledRows()) {
      lines.push(
        [
          q(r.s.name), r.s.role, r.s.volumeMl, activityGBq, r.mad, r.d70, r.v100, r.v205,
          r.limit ?? '', r.limit !== undefined && r.mad > r.limit,
          r.target ?? '', r.target !== undefined && r.mad < r.target, limitBounds.device,
        ].join(','),
      );
    }
    download(`${fileStem(caseJson.caseName)}-structures.csv`, new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
  });

  drawLegend();
  updateNumbers();
  hooks.renderNow = renderNow;
  hooks.stepSlice = async (view, n) => {
    while (pending) await pending;
    const t0 = performance.now();
    step(view, n, false);
    await renderNow();
    return performance.now() - t0;
  };
  hooks.setActivity = async (gbq) => {
    while (pending) await pending;
    const t0 = performance.now();
    setActivity(gbq, false);
    await renderNow();
    return performance.now() - t0;
  };
  hooks.crosshair = () => [...nav.crosshair];
  hooks.nav = () => ({ mmPerPx: nav.mmPerPx, centre: [...nav.centre] });
  hooks.pixelOf = (view, p) => lpsToCanvas(view, pixelToLps(view, nav, sizePx, sizePx), p);
  hooks.setCrosshair = async (p) => {
    nav.crosshair = [...p];
    await renderNow();
  };
  if (terr) {
    let territoryMs = NaN;
    hooks.setTerritoryActivities = async (gbq) => {
      while (pending) await pending;
      const t0 = performance.now();
      await terr.setActivities(gbq, { draw: false });
      await renderer!.settle(); // the GPU's sum done, for timing it apart from the drawing
      territoryMs = performance.now() - t0;
      await renderNow();
      return performance.now() - t0;
    };
    hooks.territoryUpdateMs = () => territoryMs;
    hooks.compareDoseWithCpu = async () => {
      if (!terr.live || !renderer!.readDose || !terr.doseTerms) throw new Error('the dose view does not follow the territories (a map is missing)');
      await renderer!.settle();
      const drawn = await renderer!.readDose();
      const oracle = combineDoseCpu(terr.doseTerms.map((t) => t.data), terr.activities());
      let maxAbsDiffGy = 0, maxRelDiff = 0;
      for (let v = 0; v < oracle.length; v++) {
        const d = Math.abs(drawn[v] - oracle[v]);
        maxAbsDiffGy = Math.max(maxAbsDiffGy, d);
        if (oracle[v] !== 0) maxRelDiff = Math.max(maxRelDiff, d / Math.abs(oracle[v]));
        else if (d > 0) maxRelDiff = Infinity;
      }
      return { maxAbsDiffGy, maxRelDiff, voxels: oracle.length };
    };
  }
  hooks.report = report;
  hooks.compareWithCpu = async (tolerance) => {
    await renderNow();
    const m = matrices();
    let maxDiff = 0, over = 0, pixels = 0;
    // the oracle's dose: with territories, their sum at the current activities by the CPU (combineDoseCpu)
    const oracleVols: SceneVolumes = terr?.live && vols.dose && terr.doseTerms
      ? { ...vols, dose: makeClientVolume(vols.dose.grid, combineDoseCpu(terr.doseTerms.map((t) => t.data), terr.activities())) }
      : vols;
    for (const v of views) {
      const drawn = v.canvas.getContext('2d')!.getImageData(0, 0, sizePx, sizePx).data;
      const ref = new Uint8ClampedArray(drawn.length);
      renderSliceCpu(oracleVols, m.get(v.view)!, sizePx, sizePx, settings, ref);
      for (let p = 0; p < drawn.length; p += 4) {
        let d = 0;
        for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(drawn[p + c] - ref[p + c]));
        maxDiff = Math.max(maxDiff, d);
        if (d > tolerance) over++;
        pixels++;
      }
    }
    return { maxDiff, fractionOver: over / pixels, pixels };
  };
  await renderNow();
  if (!(hooks.firstImageMs >= 0)) hooks.firstImageMs = performance.now();
  hooks.caseName = vc.caseName;
  hooks.cases++;
  document.body.dataset.case = String(hooks.cases);
  hooks.ready = true;
  document.body.dataset.ready = '1';
}

async function boot(): Promise<void> {
  window.__viewer = newHooks();
  caseTemplate = $('case-view').innerHTML;
  setupDrop({ backend: wantBackend === 'cpu' ? 'cpu' : 'auto', show: showCase });
  const mode = (await (await fetch('/api/mode')).json()) as ModeJson;
  if (mode.kind === 'case') {
    await showCase(await loadServerCase());
    return;
  }
  if (mode.kind === 'compare') {
    // two cases side by side (compare-view.ts); views a little smaller unless ?size= is given
    await showCompare({ backend: wantBackend, sizePx: Number(params.get('size')) > 0 ? sizePx : 256 });
    return;
  }
  $('case-view').hidden = true;
  if (mode.kind === 'cohort') {
    await showCohort(mode.cohort);
    $('case-name').textContent = `cohort ${mode.cohort.name}`;
  } else {
    $('case-name').textContent = 'no case';
    $('drop-hint').hidden = false;
  }
  window.__viewer.ready = true;
  document.body.dataset.ready = '1';
}

boot().catch((err: Error) => {
  if (window.__viewer) window.__viewer.error = err.message;
  const w = document.getElementById('warnings');
  if (w) w.textContent = `viewer failed: ${err.message}`;
  document.body.dataset.ready = 'error';
});
