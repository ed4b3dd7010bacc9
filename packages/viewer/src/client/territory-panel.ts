/**
 * The page's "Territories" panel for a multi-territory plan: one slider and number box per territory [GBq] (0 to
 * sliderMaxGBq, starting at the planned activity), "reset to plan", the total activity, the lung dose, the limits
 * broken at the chosen activities and the plan's constraints re-evaluated there. It owns the territory state of the
 * page: the combined dose volume the renderer draws (sum_t A_t x map_t, combined on the renderer's back end), the
 * structures' numbers at the chosen activities (territories.ts) and the dose under the crosshair.
 *
 * When a territory's map is missing (refused or unreadable) the panel still drives the table (mean doses from the
 * report's per-GBq means), but the dose view, readout and DVHs stay at the planned activities, and the panel says so.
 */
import type { ReportJson, StructureEntry, TerritoryEntry } from '../protocol.ts';
import type { StructureDoseStats } from '../../../dosimetry-core/src/stats/structure-stats.ts';
import type { ViewerCase } from './case-data.ts';
import type { SliceRenderer } from './renderer.ts';
import {
  type ConstraintRow,
  type GatheredTerms,
  type StructureNumbers,
  combineDoseCpu,
  combinedDoseAt,
  constraintRows,
  gatherTerms,
  planMeanMismatches,
  sliderMaxGBq,
  structureNumbers,
  structureVoxelSets,
  territoryMeansGy,
  voxelStatsAt,
} from './territories.ts';
import { type ClientVolume, type Lps, makeClientVolume } from './views.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function fmt(x: number | undefined, digits = 1): string {
  return x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** What main.ts needs from the panel. */
export interface TerritoryController {
  /** True when every territory's map is loaded: the dose view follows the sliders. */
  readonly live: boolean;
  /** The dose volume to draw [Gy] (the sum at the planned activities at first), and the territory maps (when live). */
  readonly dose: ClientVolume | undefined;
  readonly doseTerms: readonly ClientVolume[] | undefined;
  /** Activities now [GBq], one per territory, in report order. */
  activities(): number[];
  totalGBq(): number;
  /** Numbers of report structure `index` at the chosen activities. */
  row(index: number): StructureNumbers;
  /** Dose under an LPS point at the chosen activities [Gy] (undefined outside the grid). */
  doseAt(p: Lps): number | undefined;
  /** Connects the renderer (after the back end is chosen) and combines the planned dose on it. */
  attach(renderer: SliceRenderer): Promise<void>;
  /**
   * Sets the activities [GBq] (sliders, boxes, numbers, dose); resolves when the dose is combined. With draw false
   * the views are not redrawn (the caller draws, e.g. to time it).
   */
  setActivities(gbq: readonly number[], opts?: { draw?: boolean }): Promise<void>;
  /** Shows the total, the lung dose and what is broken; `exceeded` are the page's limit messages (limits.ts). */
  showSummary(exceeded: readonly string[], under: readonly string[]): void;
  /** Milliseconds of the last update's numbers (means, voxel statistics) and dose combination, without drawing. */
  lastUpdateMs(): number;
}

/** Options of `createTerritoryPanel`. */
export interface TerritoryPanelOptions {
  readonly vc: ViewerCase;
  /** Called after every change of the activities: update the table and the DVH, and redraw the views when `draw`. */
  readonly onChange: (draw: boolean) => void;
}

/**
 * Builds the panel (the #territories fieldset of index.html, shown) for a case with territories, and the state
 * behind it. Returns undefined for a case without territories.
 */
export function createTerritoryPanel(opts: TerritoryPanelOptions): TerritoryController | undefined {
  const { vc } = opts;
  const terr = vc.territories;
  if (!terr || terr.entries.length === 0) return undefined;
  const entries = terr.entries;
  const report: ReportJson = vc.report;
  const planned = entries.map((t) => t.plannedActivityGBq);
  let activities = [...planned];
  const missing = entries.filter((_, i) => !terr.maps[i]);
  const live = missing.length === 0 && vc.dose !== undefined;
  const maps = live ? (terr.maps as ClientVolume[]) : undefined;
  const dose = maps ? makeClientVolume(maps[0].grid, combineDoseCpu(maps.map((m) => m.data), planned)) : vc.dose;
  const names = report.structures.map((s) => s.name);
  const structs: StructureEntry[] = vc.structures;

  // Voxel statistics on the structures' voxels only (gathered once).
  let gathered: GatheredTerms | undefined;
  if (maps && vc.labels && dose) {
    const bitOf = new Map(structs.map((e) => [e.index, e.bit]));
    const sets = structureVoxelSets(vc.labels, dose, report.structures.map((s, i) => ({ name: s.name, bit: bitOf.get(i) ?? -1 })));
    gathered = gatherTerms(sets, maps.map((m) => m.data));
  }
  // Voxel means at the plan: the fallback for structures some territory lists no mean for.
  const plannedStats = gathered ? voxelStatsAt(gathered, planned) : undefined;

  let means: Array<number | undefined> = [];
  let stats: Array<StructureDoseStats | undefined> = [];
  let updateMs = 0;
  const recompute = () => {
    const t0 = performance.now();
    means = territoryMeansGy(entries, activities, names);
    stats = gathered ? voxelStatsAt(gathered, activities) : [];
    updateMs = performance.now() - t0;
  };
  recompute();

  const row = (index: number): StructureNumbers => structureNumbers(report.structures[index], means[index], stats[index], plannedStats?.[index]);

  // The panel.
  const box = $('territories');
  box.hidden = false;
  const list = $('territory-list');
  const sliders: HTMLInputElement[] = [];
  const boxes: HTMLInputElement[] = [];
  entries.forEach((t: TerritoryEntry, i) => {
    const div = document.createElement('div');
    div.className = 'territory';
    div.setAttribute('data-testid', 'territory');
    div.dataset.name = t.name;
    div.dataset.index = String(i);
    div.dataset.plannedGbq = String(t.plannedActivityGBq);
    const head = document.createElement('div');
    head.className = 'territory-name';
    head.textContent = t.device ? `${t.name} (${t.device})` : t.name;
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.setAttribute('data-testid', 'territory-slider');
    slider.min = '0';
    slider.max = String(sliderMaxGBq(t));
    slider.step = 'any';
    slider.setAttribute('aria-label', `activity of ${t.name} [GBq]`);
    const num = document.createElement('input');
    num.type = 'number';
    num.setAttribute('data-testid', 'territory-gbq');
    num.min = '0';
    num.step = '0.01';
    num.size = 6;
    num.setAttribute('aria-label', `activity of ${t.name} [GBq]`);
    const unit = document.createElement('span');
    unit.textContent = ' GBq';
    const note = document.createElement('div');
    note.className = 'territory-note';
    const notes = [`plan ${t.plannedActivityGBq.toFixed(3)} GBq`];
    if (t.maxAllowedActivityGBq !== undefined) notes.push(`max allowed ${t.maxAllowedActivityGBq.toFixed(3)}`);
    if (t.deliveredActivityGBq !== undefined) notes.push(`vial delivers ${t.deliveredActivityGBq.toFixed(3)}`);
    if (t.limitingConstraints.length) notes.push(`limited by ${t.limitingConstraints.join(', ')}`);
    if (!terr.maps[i]) notes.push('no dose map');
    note.textContent = notes.join(' · ');
    const controls = document.createElement('div');
    controls.className = 'territory-controls';
    controls.append(slider, num, unit);
    div.append(head, controls, note);
    list.append(div);
    sliders.push(slider);
    boxes.push(num);
    slider.addEventListener('input', () => void set(i, Number(slider.value)));
    // A change event that only repeats what the box shows (its rounding of the activity, e.g. on blur after the
    // page rewrote it) is not a new activity.
    num.addEventListener('change', () => {
      if (num.value !== activities[i].toFixed(3)) void set(i, Number(num.value));
    });
  });
  const liveNote = $('territory-live');
  liveNote.dataset.live = live ? '1' : '0';
  const mismatches = planMeanMismatches(report, entries);
  liveNote.dataset.mismatches = String(mismatches.length);
  liveNote.textContent = [
    live ? '' : `dose view, readout and DVHs stay at the planned activities: no dose map for ${missing.map((t) => t.name).join(', ')} (see the warnings)`,
    ...mismatches.map((m) => `${m.name}: report.json gives ${fmt(m.reportGy, 2)} Gy at the plan, its territories' means per GBq sum to ${fmt(m.sumGy, 2)} Gy (the table shows the sum)`),
  ].filter(Boolean).join('\n');

  let renderer: SliceRenderer | undefined;
  const showControls = () => {
    activities.forEach((a, i) => {
      if (Number(sliders[i].max) < a) sliders[i].max = String(a);
      sliders[i].value = String(a);
      boxes[i].value = a.toFixed(3);
    });
    box.dataset.activities = activities.join(',');
  };
  const apply = async (draw = true): Promise<void> => {
    const t0 = performance.now();
    recompute();
    if (renderer?.combineDose && live) await renderer.combineDose(activities);
    updateMs = performance.now() - t0;
    showControls();
    opts.onChange(draw);
  };
  /** Refuses what is not an activity: negative, not a number, or over 50 GBq (the CLI's plausibility limit). */
  const valid = (a: number) => Number.isFinite(a) && a >= 0 && a <= 50;
  const set = (i: number, gbq: number): Promise<void> => {
    if (!valid(gbq)) {
      showControls();
      return Promise.resolve();
    }
    activities = activities.map((a, k) => (k === i ? gbq : a));
    return apply();
  };
  $('territory-reset').addEventListener('click', () => {
    activities = [...planned];
    void apply();
  });
  showControls();

  return {
    live,
    dose,
    doseTerms: maps,
    activities: () => [...activities],
    totalGBq: () => activities.reduce((a, b) => a + b, 0),
    row,
    doseAt: (p) => (maps ? combinedDoseAt(maps, activities, p) : undefined),
    async attach(r: SliceRenderer): Promise<void> {
      renderer = r;
      if (live && r.combineDose) await r.combineDose(activities);
    },
    async setActivities(gbq: readonly number[], o: { draw?: boolean } = {}): Promise<void> {
      if (gbq.length !== entries.length || !gbq.every(valid)) {
        throw new Error(`give ${entries.length} activities between 0 and 50 GBq (got ${gbq.join(', ')})`);
      }
      activities = [...gbq];
      await apply(o.draw ?? true);
    },
    showSummary(exceeded: readonly string[], under: readonly string[]): void {
      const total = activities.reduce((a, b) => a + b, 0);
      const plannedTotal = planned.reduce((a, b) => a + b, 0);
      const lungs = report.structures.map((s, i) => ({ s, i })).filter(({ s }) => s.role === 'lung');
      const lungText = lungs.map(({ s, i }) => `${s.name} ${fmt(row(i).meanGy)} Gy`).join(', ');
      const sum = $('territory-summary');
      sum.dataset.totalGbq = String(total);
      sum.dataset.lungGy = lungs.length ? String(row(lungs[0].i).meanGy) : '';
      sum.textContent = `total ${total.toFixed(3)} GBq (plan ${plannedTotal.toFixed(3)})` + (lungs.length ? ` · lung: ${lungText}` : '');
      const crows = constraintRows(report, report.structures.map((_, i) => row(i).meanGy), activities);
      showConstraints(crows);
      const broken = [...exceeded, ...crows.filter((c) => c.broken).map((c) => `constraint ${c.name}: ${fmt(c.nowGy)} Gy ${c.sense === 'max' ? 'above' : 'below'} ${c.limitGy} Gy`)];
      const el = $('territory-broken');
      el.dataset.broken = String(broken.length);
      const line = (text: string, cls: string) => {
        const d = document.createElement('div');
        d.textContent = text;
        if (cls) d.className = cls;
        return d;
      };
      el.replaceChildren(
        ...(broken.length ? broken.map((t) => line(t, 'exceeded')) : [line('no limit broken at these activities', '')]),
        ...under.map((t) => line(t, 'under-target')),
      );
    },
    lastUpdateMs: () => updateMs,
  };
}

/** The plan's constraints (report.json plan.constraints), at the plan and at the chosen activities. */
function showConstraints(rows: readonly ConstraintRow[]): void {
  const table = $('territory-constraints') as HTMLTableElement;
  table.hidden = rows.length === 0;
  const body = table.tBodies[0];
  body.replaceChildren(
    ...rows.map((c) => {
      const tr = document.createElement('tr');
      tr.setAttribute('data-testid', 'constraint-row');
      tr.dataset.name = c.name;
      tr.classList.toggle('exceeded', c.broken === true);
      const cells = [
        c.name,
        c.limitGy === undefined ? '–' : `${c.sense === 'max' ? '<' : '≥'} ${c.limitGy}`,
        fmt(c.planValueGy),
        c.binding === undefined ? '' : c.binding ? 'binding' : '',
        fmt(c.nowGy),
      ];
      for (const t of cells) {
        const td = document.createElement('td');
        td.textContent = t;
        tr.append(td);
      }
      return tr;
    }),
  );
}
