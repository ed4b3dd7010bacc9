/**
 * The drop panel: files dropped anywhere on the page (or picked with the file button) are decoded, listed with a
 * role each, and computed in the page on "compute" (drop.ts); the result replaces the case shown.
 */
import type { Isotope } from '../../../dosimetry-core/src/units/index.ts';
import type { ViewerCase } from './case-data.ts';
import type { DoseMethod } from '../../../dosimetry-core/src/dose/pipeline.ts';
import { type DroppedFile, computeDropped, decodeDropped, decodeDroppedDicom, droppedMasks, isDroppedDicom, parseDropMc } from './drop.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Options of `setupDrop`. */
export interface DropUiOptions {
  /**
   * Back end of the computation chosen at first in the panel's back-end select ('cpu' when the page was opened with
   * ?backend=cpu); the select can change it (WebGPU also on a software adapter, which 'auto' passes over).
   */
  readonly backend: 'auto' | 'cpu';
  /** Shows a computed case. */
  readonly show: (c: ViewerCase) => Promise<void>;
}

const ROLES: DroppedFile['role'][] = ['activity', 'ct', 'segmentation', 'label-map', 'label-table', 'ignore'];

/** Wires the drop target, the file button and the panel. */
export function setupDrop(opts: DropUiOptions): void {
  let files: DroppedFile[] = [];
  const status = $('drop-status');
  const say = (m: string, error = false) => {
    status.textContent = m;
    status.dataset.state = error ? 'error' : 'ok';
  };

  const structureNames = (): string[] => {
    try {
      return droppedMasks(files, labelTables()).flatMap((s) => s.masks.map((m) => m.name));
    } catch (err) {
      say((err as Error).message, true);
      return [];
    }
  };
  const labelTables = (): Record<string, string> => {
    const t: Record<string, string> = {};
    for (const inp of document.querySelectorAll<HTMLInputElement>('#drop-files input.labels')) t[inp.dataset.file!] = inp.value.trim();
    return t;
  };
  const fillStructureChoices = () => {
    const names = structureNames();
    const opt = (v: string, sel: boolean) => Object.assign(document.createElement('option'), { value: v, textContent: v || '–', selected: sel });
    const liver = $('drop-liver') as HTMLSelectElement;
    const lung = $('drop-lung') as HTMLSelectElement;
    const tumors = $('drop-tumors') as HTMLSelectElement;
    const liverName = names.find((n) => /liver/i.test(n) && !/normal/i.test(n)) ?? names[0] ?? '';
    liver.replaceChildren(...names.map((n) => opt(n, n === liverName)));
    lung.replaceChildren(opt('', false), ...names.map((n) => opt(n, /lung/i.test(n))));
    tumors.replaceChildren(...names.map((n) => opt(n, /tumou?r|lesion|metast/i.test(n))));
  };

  const list = () => {
    const rows = files.map((f) => {
      const tr = document.createElement('tr');
      tr.dataset.file = f.name;
      if (f.volume) {
        let sum = 0;
        for (let i = 0; i < f.volume.data.length; i++) sum += f.volume.data[i];
        tr.dataset.voxelSum = String(sum); // for automated checks of what was decoded
      }
      const what = f.masks ? `${f.masks.length} segments` : f.volume ? f.volume.geometry.dims.join('x') : f.table ? `${f.table.entries.length} labels (${f.table.format})` : '';
      tr.innerHTML = `<td class="name"></td><td>${what}</td><td><select class="role"></select></td><td><input class="labels" size="18" placeholder="1=Liver,2=Tumor A"></td>`;
      (tr.querySelector('.name') as HTMLElement).textContent = f.name;
      const sel = tr.querySelector('select') as HTMLSelectElement;
      sel.setAttribute('data-testid', 'drop-role');
      for (const r of ROLES) sel.append(Object.assign(document.createElement('option'), { value: r, textContent: r, selected: r === f.role }));
      sel.addEventListener('change', () => {
        f.role = sel.value as DroppedFile['role'];
        fillStructureChoices();
      });
      const lab = tr.querySelector('input.labels') as HTMLInputElement;
      lab.dataset.file = f.name;
      lab.hidden = !f.volume;
      // a dropped table file applies to label maps whose field is empty (one table), or is named as @NAME
      const tableNames = files.filter((t) => t.role === 'label-table').map((t) => `@${t.name}`);
      if (tableNames.length) lab.placeholder = tableNames.length === 1 ? `${tableNames[0]} (dropped)` : tableNames.join(' or ');
      lab.addEventListener('change', fillStructureChoices);
      return tr;
    });
    $('drop-files').replaceChildren(...rows);
    fillStructureChoices();
    $('drop-panel').hidden = files.length === 0;
  };

  const add = async (picked: File[]) => {
    say(`reading ${picked.length} file(s)…`);
    const errors: string[] = [];
    const notes: string[] = [];
    // DICOM files are read together (a series is many files), the others one by one
    const bytesOf = await Promise.all(picked.map(async (file) => ({ name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) })));
    const dicom = bytesOf.filter((f) => isDroppedDicom(f.name, f.bytes));
    if (dicom.length) {
      try {
        for (const d of await decodeDroppedDicom(dicom)) {
          files = [...files.filter((f) => f.name !== d.name), d];
          notes.push(...(d.warnings ?? []).map((w) => `warning: ${w}`));
        }
      } catch (err) {
        errors.push(`DICOM: ${(err as Error).message}`);
      }
    }
    for (const file of picked.filter((_, k) => !dicom.includes(bytesOf[k]))) {
      try {
        const d = await decodeDropped(file.name, new Uint8Array(await file.arrayBuffer()));
        files = [...files.filter((f) => f.name !== d.name), d];
      } catch (err) {
        errors.push(`${file.name}: ${(err as Error).message}`);
      }
    }
    list();
    say(errors.length ? errors.join(' · ') : [`${files.length} file(s) ready; check the roles and compute`, ...notes].join(' · '), errors.length > 0);
  };

  document.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    document.body.classList.remove('dragging');
    const picked = [...(ev.dataTransfer?.files ?? [])];
    if (picked.length) void add(picked);
  });
  const input = $('file-input') as HTMLInputElement;
  input.addEventListener('change', () => {
    void add([...(input.files ?? [])]);
    input.value = '';
  });
  $('drop-clear').addEventListener('click', () => {
    files = [];
    list();
    say('');
  });
  const methodSelect = $('drop-method') as HTMLSelectElement;
  const backendSelect = $('drop-backend') as HTMLSelectElement;
  backendSelect.value = opts.backend;
  // the Monte Carlo fields (histories, seed) only with that method
  const showMethodFields = () => ($('drop-mc').hidden = methodSelect.value !== 'mc');
  methodSelect.addEventListener('change', showMethodFields);
  showMethodFields();
  $('drop-compute').addEventListener('click', async () => {
    const btn = $('drop-compute') as HTMLButtonElement;
    btn.disabled = true;
    try {
      const admin = Number(($('drop-admin') as HTMLInputElement).value);
      const method = methodSelect.value as DoseMethod;
      const mc = method === 'mc' ? parseDropMc(($('drop-mc-histories') as HTMLInputElement).value, ($('drop-mc-seed') as HTMLInputElement).value) : undefined;
      const t0 = performance.now();
      const vc = await computeDropped(
        files,
        {
          activityUnit: ($('drop-unit') as HTMLSelectElement).value as 'bq-per-ml' | 'counts',
          administeredGBq: admin > 0 ? admin : undefined,
          isotope: ($('drop-isotope') as HTMLSelectElement).value as Isotope,
          method,
          ...(mc ? { mc } : {}),
          liver: ($('drop-liver') as HTMLSelectElement).value,
          tumors: [...($('drop-tumors') as HTMLSelectElement).selectedOptions].map((o) => o.value),
          lung: ($('drop-lung') as HTMLSelectElement).value || undefined,
          labelTables: labelTables(),
          backend: backendSelect.value as 'auto' | 'webgpu' | 'cpu',
        },
        (m) => say(m),
      );
      await opts.show(vc);
      const r = vc.mcRun;
      status.dataset.mcHistoriesPerSecond = r ? String(r.historiesPerSecond) : '';
      say(
        `computed in the browser on the ${vc.report.backend} back end in ${Math.round(performance.now() - t0)} ms` +
          (r ? ` (Monte Carlo: ${r.histories.toLocaleString('en-US')} histories, seed ${r.seed}, ${r.historiesPerSecond.toLocaleString('en-US')} histories/s)` : ''),
      );
    } catch (err) {
      say(`cannot compute: ${(err as Error).message}`, true);
    } finally {
      btn.disabled = false;
    }
  });
}
