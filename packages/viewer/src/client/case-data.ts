/**
 * A case as the page shows it, wherever it came from: a case folder served by the viewer's server
 * (loadServerCase) or files dropped into the page and computed there (drop.ts).
 */
import type { CaseJson, ReportJson, StructureEntry, TerritoryEntry } from '../protocol.ts';
import { type ClientVolume, makeClientVolume } from './views.ts';

/** Everything the views, the table and the DVH need. */
export interface ViewerCase {
  readonly caseName: string;
  readonly report: ReportJson;
  readonly ct?: ClientVolume;
  /** Dose [Gy] at the report's activity. */
  readonly dose?: ClientVolume;
  /** Monte Carlo: relative standard error of each voxel's dose (a fraction; 0 where the dose is 0), on the dose grid. */
  readonly doseRelStdErr?: ClientVolume;
  /** Activity as stored (unit in `units.activity`). */
  readonly activity?: ClientVolume;
  /** Display units by volume name. */
  readonly units: Record<string, string>;
  readonly structures: StructureEntry[];
  readonly labels?: ClientVolume<Uint32Array>;
  readonly warnings: string[];
  /**
   * The territories of a multi-territory plan with their dose maps per GBq [Gy/GBq] (undefined where the server could
   * not load one); absent for other cases.
   */
  readonly territories?: { readonly entries: TerritoryEntry[]; readonly maps: Array<ClientVolume | undefined> };
}

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.arrayBuffer();
}

/** Loads the served case (GET /api/case, its volumes and structure bits). */
export async function loadServerCase(): Promise<ViewerCase> {
  const cj = (await (await fetch('/api/case')).json()) as CaseJson;
  const vols: Partial<Record<string, ClientVolume>> = {};
  await Promise.all(
    cj.volumes.map(async (v) => {
      vols[v.name] = makeClientVolume(v.grid, new Float32Array(await fetchBytes(v.url)));
    }),
  );
  const labels = cj.labels ? makeClientVolume(cj.labels.grid, new Uint32Array(await fetchBytes(cj.labels.url))) : undefined;
  const entries = cj.territories ?? [];
  const maps = await Promise.all(
    entries.map(async (t) => (t.doseMapPerGBq ? makeClientVolume(t.doseMapPerGBq.grid, new Float32Array(await fetchBytes(t.doseMapPerGBq.url))) : undefined)),
  );
  return {
    caseName: cj.caseName,
    report: cj.report,
    ct: vols.ct,
    dose: vols.dose,
    ...(vols.uncertainty ? { doseRelStdErr: vols.uncertainty } : {}),
    activity: vols.activity,
    units: Object.fromEntries(cj.volumes.map((v) => [v.name, v.unit])),
    structures: cj.structures,
    labels,
    warnings: cj.warnings,
    ...(entries.length ? { territories: { entries, maps } } : {}),
  };
}
