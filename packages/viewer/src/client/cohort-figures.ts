/**
 * The journal figures of a cohort folder's tables, drawn in the page by the core's figure code (ROC with its band,
 * dose by group, the logistic dose-response curve, Kaplan-Meier with the number at risk): the page picks the columns
 * the commands take as options, runs the same analyses (figureFromTable) and shows the SVG the command would write,
 * inline; "SVG" and "PDF" save the same figure as files (the PDF made in the page with pdf-lib).
 */
import type { CsvTable } from '../../../dosimetry-core/src/research/csv.ts';
import { parseCsvDialect } from '../../../dosimetry-core/src/research/dialect.ts';
import { figureFromTable, type TableFigureKind, type TableFigureRequest } from '../../../dosimetry-core/src/research/figures/from-table.ts';
import { sceneToPdf } from '../../../dosimetry-core/src/research/figures/pdf.ts';
import type { Scene } from '../../../dosimetry-core/src/research/figures/scene.ts';
import { sceneToSvg } from '../../../dosimetry-core/src/research/figures/svg.ts';
import { isMissing } from '../../../dosimetry-core/src/research/table.ts';
import type { CohortFileJson } from '../protocol.ts';

const KINDS: ReadonlyArray<[TableFigureKind, string]> = [['roc', 'ROC'], ['groups', 'dose by group'], ['logistic', 'dose-response'], ['km', 'Kaplan-Meier']];

/** A cohort table with its parsed content. */
interface LoadedTable {
  readonly name: string;
  readonly table: CsvTable;
  /** Columns whose every present value is a number. */
  readonly numeric: string[];
}

function numericColumns(t: CsvTable): string[] {
  return t.columns.filter((c) => {
    const vals = t.rows.map((r) => r[c]).filter((v) => !isMissing(v));
    return vals.length > 0 && vals.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  });
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, testid?: string): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  if (testid) e.setAttribute('data-testid', testid);
  return e;
}

function select(testid: string, options: readonly string[], value: string | undefined, labels?: readonly string[]): HTMLSelectElement {
  const s = el('select', {}, testid);
  options.forEach((o, k) => s.append(el('option', { value: o, textContent: labels?.[k] ?? (o || '(none)') })));
  if (value !== undefined && options.includes(value)) s.value = value;
  return s;
}

function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  const l = el('label', { textContent: `${text} ` });
  l.append(control);
  return l;
}

function download(name: string, blob: Blob): void {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** First column whose name matches one of the patterns, in pattern order. */
function guess(columns: readonly string[], patterns: readonly RegExp[]): string | undefined {
  for (const p of patterns) {
    const c = columns.find((x) => p.test(x));
    if (c) return c;
  }
  return undefined;
}

/** The figure panel of a cohort folder: fetches its tables and draws the first figure that fits them. */
export async function cohortFigures(files: readonly CohortFileJson[]): Promise<HTMLElement> {
  const section = el('section', { className: 'cohort-figures' }, 'cohort-figures');
  section.append(el('h3', { textContent: 'figures' }));
  const tables: LoadedTable[] = [];
  for (const f of files) {
    try {
      const { table } = parseCsvDialect(await (await fetch(f.url)).text(), f.name);
      tables.push({ name: f.name, table, numeric: numericColumns(table) });
    } catch {
      // a table that cannot be read is reported in its own box below; it offers no columns here
    }
  }
  if (!tables.length) {
    section.append('no table to draw from');
    return section;
  }
  const hasResponse = (t: LoadedTable) => t.table.columns.some((c) => /^response$/i.test(c));
  const start = tables.find(hasResponse) ?? tables[0];
  const kind = select('figure-kind', KINDS.map((k) => k[0]), hasResponse(start) ? 'roc' : 'km', KINDS.map((k) => k[1]));
  const tableSel = select('figure-table', tables.map((t) => t.name), start.name);
  const controls = el('div', { className: 'figure-controls' });
  const figure = el('figure', { className: 'figure' }, 'cohort-figure');
  const error = el('div', { className: 'figure-error' }, 'cohort-figure-error');
  section.append(controls, error, figure);
  // per-table column choices, rebuilt when the table changes
  let cols: Record<string, HTMLSelectElement> = {};
  const cutoff = el('input', { type: 'number', step: 'any', size: 6 }, 'figure-cutoff');
  const label = el('input', { type: 'text', size: 14, placeholder: 'from the column' }, 'figure-label');
  const unit = el('input', { type: 'text', size: 6, placeholder: 'from the column' }, 'figure-unit');
  const width = select('figure-width', ['89', '183'], '89', ['89 mm (single column)', '183 mm (double column)']);
  let scene: Scene | undefined;
  let svgText = '';

  const current = () => tables.find((t) => t.name === tableSel.value)!;
  const buildColumns = () => {
    const t = current();
    const all = t.table.columns;
    const num = t.numeric;
    const nonNum = all.filter((c) => !num.includes(c));
    cols = {
      dose: select('figure-dose', num, guess(num, [/^doseGy$/i, /^meanGy$/i, /Gy$/, /dose/i]) ?? num[0]),
      response: select('figure-response', all, guess(all, [/^response$/i, /response/i]) ?? nonNum[0] ?? all[0]),
      time: select('figure-time', num, guess(num, [/^pfs.*months$/i, /months$/i, /time/i, /days$/i]) ?? num[0]),
      event: select('figure-event', all, guess(all, [/^pfsEvent$/i, /event$/i, /status/i]) ?? all[0]),
      groupBy: select('figure-group-by', ['', ...all], ''),
      kmDose: select('figure-km-dose', ['', ...num], ''),
    };
  };
  const layoutControls = () => {
    const k = kind.value as TableFigureKind;
    const parts: HTMLElement[] = [labelled('figure', kind), labelled('table', tableSel)];
    if (k === 'km') {
      parts.push(labelled('time', cols.time), labelled('event', cols.event), labelled('group by', cols.groupBy), labelled('or dose', cols.kmDose), labelled('cutoff', cutoff));
    } else {
      parts.push(labelled(k === 'groups' ? 'value' : 'dose', cols.dose), labelled(k === 'groups' ? 'group' : 'response', cols.response));
    }
    parts.push(labelled('label', label), labelled('unit', unit), labelled('width', width));
    controls.replaceChildren(...parts);
  };
  const request = (): TableFigureRequest => {
    const k = kind.value as TableFigureKind;
    const cut = cutoff.value.trim() === '' ? undefined : Number(cutoff.value);
    return {
      kind: k,
      ...(k === 'km'
        ? { time: cols.time.value, event: cols.event.value, ...(cols.groupBy.value ? { groupBy: cols.groupBy.value } : cols.kmDose.value && cut !== undefined ? { dose: cols.kmDose.value, cutoff: cut } : {}) }
        : { dose: cols.dose.value, response: cols.response.value }),
      ...(label.value.trim() ? { label: label.value.trim() } : {}),
      ...(unit.value !== '' ? { unit: unit.value } : {}),
      style: { widthMm: Number(width.value) },
    };
  };
  const draw = () => {
    const req = request();
    figure.dataset.kind = req.kind;
    try {
      scene = figureFromTable(current().table, req, current().name);
      svgText = sceneToSvg(scene);
    } catch (err) {
      scene = undefined;
      svgText = '';
      figure.replaceChildren();
      error.textContent = `cannot draw: ${(err as Error).message}`;
      figure.dataset.state = 'error';
      return;
    }
    error.textContent = '';
    // our own SVG (escaped text, no scripts), parsed as XML and adopted into the page
    const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    const svg = document.importNode(doc.documentElement, true);
    const svgButton = el('button', { textContent: 'SVG' }, 'figure-save-svg');
    const pdfButton = el('button', { textContent: 'PDF' }, 'figure-save-pdf');
    const stem = `${req.kind}-${(req.kind === 'km' ? req.time : req.dose) ?? 'figure'}`.replace(/[^A-Za-z0-9._-]+/g, '_');
    svgButton.onclick = () => download(`${stem}.svg`, new Blob([svgText], { type: 'image/svg+xml' }));
    pdfButton.onclick = async () => {
      if (!scene) return;
      try {
        const bytes = await sceneToPdf(scene);
        download(`${stem}.pdf`, new Blob([bytes.slice().buffer as ArrayBuffer], { type: 'application/pdf' }));
      } catch (err) {
        error.textContent = `cannot write the PDF: ${(err as Error).message}`;
      }
    };
    const caption = el('figcaption', { textContent: scene!.caption });
    const buttons = el('div', { className: 'figure-save' });
    buttons.append('save ', svgButton, ' ', pdfButton);
    figure.replaceChildren(svg, caption, buttons);
    figure.dataset.state = 'drawn';
  };
  const redraw = () => {
    buildColumns();
    layoutControls();
    draw();
  };
  kind.onchange = () => (layoutControls(), draw());
  tableSel.onchange = redraw;
  controls.addEventListener('change', (ev) => {
    if (ev.target !== kind && ev.target !== tableSel) draw();
  });
  redraw();
  return section;
}
