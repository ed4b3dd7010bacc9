/**
 * Cohort view: the plots (SVG, shown as images so nothing in them runs) and tables (CSV, parsed with the core's CSV
 * reader and shown as HTML tables) and JSON results of a cohort folder, as written by `dosimetry cohort`, `roc`,
 * `groups`, `logistic` and `km` with --figure/--svg, and the figures of its tables drawn in the page (cohort-figures.ts).
 */
import { parseCsv } from '../../../dosimetry-core/src/research/csv.ts';
import type { CohortJson } from '../protocol.ts';
import { cohortFigures } from './cohort-figures.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Largest number of table rows shown (the CSV itself holds all). */
const MAX_ROWS = 500;

/** Fills #cohort-view with the folder's plots and tables. */
export async function showCohort(c: CohortJson): Promise<void> {
  const view = $('cohort-view');
  view.hidden = false;
  const plots = c.plots.map((p) => {
    const fig = document.createElement('figure');
    fig.className = 'plot';
    fig.setAttribute('data-testid', 'cohort-plot');
    fig.dataset.name = p.name;
    const img = document.createElement('img');
    img.src = p.url;
    img.alt = p.name;
    const cap = document.createElement('figcaption');
    const a = Object.assign(document.createElement('a'), { href: p.url, download: p.name, textContent: p.name });
    cap.append(a);
    fig.append(img, cap);
    return fig;
  });
  const tables = await Promise.all(
    c.tables.map(async (t) => {
      const box = document.createElement('div');
      box.className = 'cohort-table';
      box.setAttribute('data-testid', 'cohort-table');
      box.dataset.name = t.name;
      const h = document.createElement('h3');
      h.append(Object.assign(document.createElement('a'), { href: t.url, download: t.name, textContent: t.name }));
      box.append(h);
      try {
        const text = await (await fetch(t.url)).text();
        const csv = parseCsv(text, t.name);
        const table = document.createElement('table');
        const head = document.createElement('tr');
        for (const col of csv.columns) head.append(Object.assign(document.createElement('th'), { textContent: col }));
        table.createTHead().append(head);
        const body = table.createTBody();
        for (const row of csv.rows.slice(0, MAX_ROWS)) {
          const tr = document.createElement('tr');
          for (const col of csv.columns) {
            const v = row[col] ?? '';
            const x = Number(v);
            tr.append(Object.assign(document.createElement('td'), { textContent: v !== '' && Number.isFinite(x) && !Number.isInteger(x) ? x.toPrecision(4) : v }));
          }
          body.append(tr);
        }
        box.dataset.rows = String(csv.rows.length);
        box.append(table);
        if (csv.rows.length > MAX_ROWS) box.append(`… ${csv.rows.length - MAX_ROWS} more rows in the file`);
      } catch (err) {
        box.append(`cannot read: ${(err as Error).message}`);
      }
      return box;
    }),
  );
  const results = c.results.map((r) => {
    const li = document.createElement('li');
    li.append(Object.assign(document.createElement('a'), { href: r.url, textContent: r.name }));
    return li;
  });
  const resultList = document.createElement('ul');
  resultList.append(...results);
  view.replaceChildren(
    Object.assign(document.createElement('h2'), { textContent: `cohort ${c.name}` }),
    // figures drawn in the page from the tables, by the commands' own figure code
    await cohortFigures(c.tables),
    Object.assign(document.createElement('div'), { className: 'plots' }),
    ...tables,
    ...(results.length ? [resultList] : []),
  );
  view.querySelector('.plots')!.append(...plots);
}
