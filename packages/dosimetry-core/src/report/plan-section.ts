/**
 * The plan section of the PDF report: prescribed activity, limiting constraint, targets met, the constraints at the
 * prescribed activity, the methods side by side, territories, binding constraints and the vial order. Fields that
 * other parts of the planner add (territories, order) are shown generically, each with the unit of its key.
 */
import { arr, genericRows, genericTable, num, obj, str, type Json } from './fields.ts';
import { GREEN, GREY, Layout, RED, type Cell } from './layout.ts';
import { fixed, percent, REPORT_ROUNDING as R, valueText } from './text.ts';

// ---------------------------------------------------------------------------------------------------------------
// Plan

const PLAN_METHOD_ORDER = ['mird', 'bsa', 'partition', 'voxel'];

/** Draws the plan section of report.json `plan`. */
export function drawPlan(L: Layout, plan: Json): void {
  L.heading('Plan', 120);
  const a = num(plan.activityGBq);
  L.drawLine(L.clean(`Prescribed activity: ${fixed(a, R.activityGBq)} GBq`), L.left, L.y - 14, 14, { bold: true });
  L.y -= 19;
  const targetMet = plan.targetMet;
  const reached = plan.tumorTargetReached;
  const limiting = arr(plan.limitingConstraints).length ? arr(plan.limitingConstraints).map(constraintText).join('; ') : str(plan.limitingConstraint) ?? '-';
  const method = str(plan.prescribedMethod) ?? str(plan.prescribe);
  const device = [str(plan.device) && `device ${str(plan.device)}`, str(plan.isotope)].filter(Boolean).join(', ');
  const rows: Array<[string, Cell]> = [
    ...(method ? [['Prescribed by', `${method}${device ? ` (${device})` : ''}`] as [string, Cell]] : []),
    ['Limiting constraint', { text: limiting, bold: true }],
    ['Tumour target', targetMet === false
      ? { text: 'NOT met under the limits: the best allowed plan is given', bold: true, color: RED }
      : reached === false ? { text: 'NOT reached in the dose map', bold: true, color: RED } : targetMet === true || reached === true ? { text: 'met', color: GREEN } : 'no target'],
  ];
  if (num(plan.maxAllowedActivityGBq) !== undefined) rows.push(['Largest allowed activity', `${fixed(num(plan.maxAllowedActivityGBq), R.activityGBq)} GBq (voxel-based limits)`]);
  const lsf = num(plan.lungShuntFraction);
  const lungMass = num(plan.lungMassG);
  if (lsf !== undefined || lungMass !== undefined) {
    rows.push(['Lung shunt fraction', [
      lsf !== undefined ? `${percent(lsf, R.lsfPercent)} % (${str(plan.lungShuntFractionSource) ?? '-'})` : '',
      lungMass !== undefined ? `lung mass ${fixed(lungMass, 0)} g (${str(plan.lungMassSource) ?? '-'})` : '',
    ].filter(Boolean).join('; ')]);
  }
  const norm = obj(plan.normalization);
  if (norm) rows.push(['Scout normalised to', `${str(norm.structure) ?? '-'} (${str(norm.source) ?? '-'})`]);
  L.keyValues(rows, { labelWidthPt: 118 });

  // constraints at the prescribed activity
  const t = obj(plan.targets) ?? {};
  const p = obj(plan.predicted) ?? {};
  const basis = str(t.tumorBasis) ?? 'every-lesion';
  const lesions = arr(p.lesions).map((x) => obj(x) ?? {});
  const coldest = lesions.reduce<Json | undefined>((m, l) => (m === undefined || (num(l.meanGy) ?? Infinity) < (num(m.meanGy) ?? Infinity) ? l : m), undefined);
  const crit: Cell[][] = [];
  const line = (what: string, kind: '>=' | '<', gy: number | undefined, value: number | undefined, note = '') => {
    if (gy === undefined) return;
    const ok = value === undefined ? undefined : kind === '>=' ? value >= gy * (1 - 1e-6) : value <= gy * (1 + 1e-6);
    crit.push([what, `${kind} ${fixed(gy, R.doseGy)}`, fixed(value, R.doseGy), note, ok === undefined ? '-' : ok ? { text: 'ok', color: GREEN } : { text: kind === '>=' ? 'NOT MET' : 'BROKEN', bold: true, color: RED }]);
  };
  line(basis === 'mean' ? 'tumour (all tumour mean)' : 'tumour (coldest lesion)', '>=', num(t.tumorGy), basis === 'mean' ? num(p.allTumorGy) : num(coldest?.meanGy), basis === 'mean' ? '' : str(coldest?.name) ?? '');
  line('perfused normal liver', '<', num(t.normalLiverGy), num(p.perfusedNormalLiverGy));
  line('whole normal liver', '<', num(t.wholeNormalLiverGy), num(p.wholeNormalLiverGy));
  line('lung (CF A LSF / M lung)', '<', num(t.lungGy), num(p.lungGy));
  // (a plan without predicted doses, e.g. over territories, lists its limits per territory and over all below)
  if (crit.length && obj(plan.predicted)) {
    L.paragraph('Targets and limits at the prescribed activity (mean absorbed doses):', { sizePt: 8, bold: true });
    L.table([{ header: 'Constraint' }, { header: 'Limit Gy' }, { header: 'Predicted Gy', align: 'right' }, { header: 'Where' }, { header: 'Status' }], crit);
  }

  // methods side by side
  const methods = obj(plan.methods);
  if (methods) {
    const names = [...PLAN_METHOD_ORDER.filter((m) => m in methods), ...Object.keys(methods).filter((m) => !PLAN_METHOD_ORDER.includes(m))];
    const lesionNames = arr(p.lesions).map((x) => str(obj(x)?.name) ?? '?');
    const mrows: Cell[][] = names.map((m) => {
      const r = obj(methods[m]) ?? {};
      const pr = obj(r.predicted);
      const act = num(r.activityGBq);
      const presc = m === str(plan.prescribedMethod);
      const violations = arr(r.violations).map(String);
      const lesionMean = (n: string) => num(obj(arr(pr?.lesions).find((x) => str(obj(x)?.name) === n))?.meanGy);
      return [
        { text: `${m}${presc ? ' *' : ''}`, bold: presc },
        act === undefined ? (r.applicable === false ? 'n/a' : 'n/c') : { text: fixed(act, R.activityGBq), bold: presc },
        ...lesionNames.map((n) => fixed(lesionMean(n), R.doseGy)),
        fixed(num(pr?.allTumorGy), R.doseGy), fixed(num(pr?.perfusedNormalLiverGy), R.doseGy), fixed(num(pr?.wholeNormalLiverGy), R.doseGy), fixed(num(pr?.lungGy), R.doseGy),
        str(r.limitingConstraint) ?? '-',
        act === undefined ? '-' : violations.length ? { text: `BROKEN: ${violations.join('; ')}`, bold: true, color: RED } : 'ok',
      ];
    });
    L.paragraph('Methods side by side (mean absorbed doses in Gy from the dose map at each activity; * prescribed; n/a not applicable; n/c not computed):', { sizePt: 8, bold: true });
    L.table(
      [
        { header: 'Method' }, { header: 'A GBq', align: 'right' }, ...lesionNames.map((n) => ({ header: n, align: 'right' as const })),
        { header: 'All tumour', align: 'right' }, { header: 'Perfused normal', align: 'right' }, { header: 'Whole normal', align: 'right' },
        { header: 'Lung', align: 'right' }, { header: 'Binds' }, { header: 'Limits', wrap: true },
      ],
      mrows,
    );
    for (const m of names) {
      const r = obj(methods[m]) ?? {};
      if (str(r.description)) L.paragraph(`${m}: ${str(r.description)}`, { sizePt: 7, color: GREY, afterPt: 1 });
    }
    L.y -= 4;
  }

  // territories
  const territories = arr(plan.territories).map((x) => obj(x) ?? {});
  if (territories.length) {
    L.heading(`Territories (${territories.length})`, 60);
    for (const terr of territories) {
      const ta = num(terr.activityGBq);
      const lim = arr(terr.limitingConstraints).map(constraintText).join('; ') || str(terr.limitingConstraint) || '-';
      L.paragraph(`${str(terr.name) ?? '?'}: ${fixed(ta, R.activityGBq)} GBq${str(terr.device) ? `, ${str(terr.device)}` : ''}; limited by ${lim}`, { sizePt: 9, bold: true, afterPt: 2 });
      // (its vial order and calibration are drawn under "Vial order", with the plain plan's)
      const other = genericRows(terr, ['name', 'activityGBq', 'device', 'limitingConstraints', 'limitingConstraint', 'structures', 'warnings', 'order', 'calibration']);
      if (other.rows.length) L.keyValuesTwoColumns(other.rows, { sizePt: 7.5 });
      const ts = arr(terr.structures).map((x) => obj(x) ?? {});
      if (ts.length) {
        L.table(
          [{ header: 'Structure', wrap: true }, { header: 'Gy per GBq', align: 'right' }, { header: `Gy at ${fixed(ta, R.activityGBq)} GBq`, align: 'right' }],
          ts.map((s) => [str(s.name) ?? '?', fixed(num(s.meanGyPerGBq), 2), ta === undefined || num(s.meanGyPerGBq) === undefined ? '-' : fixed(num(s.meanGyPerGBq)! * ta, R.doseGy)]),
        );
      }
      for (const tb of other.tables) drawGenericTable(L, tb.title, tb.value);
      for (const [label, text] of other.notes) L.paragraph(`${label}: ${text}`, { sizePt: 6.5, color: GREY, afterPt: 1 });
    }
  }
  if (arr(plan.limitingConstraints).some((x) => obj(x))) drawGenericTable(L, 'Binding constraints', arr(plan.limitingConstraints));
  // a territory plan's targets (coverage) and limits (constraints) over all territories
  for (const [key, title] of [['coverage', 'Targets over all territories'], ['constraints', 'Limits over all territories']] as const) {
    if (arr(plan[key]).some((x) => obj(x))) drawGenericTable(L, title, arr(plan[key]));
  }

  // the vial order: the prescribed activity carried to calibration, and the order itself when the plan has one; a
  // territory plan has one of each per territory, and the plan's limits at the activities the vials deliver
  const orders: Array<[string, Json]> = [];
  const add = (title: string, o: Json | undefined) => o && orders.push([title, o]);
  add('Prescribed activity carried to the calibration time', obj(plan.calibration));
  add('Order', obj(plan.order));
  for (const terr of territories) {
    const name = str(terr.name) ?? '?';
    add(`Territory ${name}: prescribed activity carried to the calibration time`, obj(terr.calibration));
    add(`Territory ${name}: order`, obj(terr.order));
  }
  if (orders.length) {
    L.heading('Vial order', 40);
    for (const [title, o] of orders) {
      L.paragraph(title, { sizePt: 8, bold: true, afterPt: 1 });
      const g = genericRows(o, ['warnings']);
      L.keyValuesTwoColumns(g.rows, { sizePt: 7.5 });
      for (const tb of g.tables) drawGenericTable(L, tb.title, tb.value);
      for (const [label, text] of g.notes) L.paragraph(`${label}: ${text}`, { sizePt: 6.5, color: GREY, afterPt: 1 });
    }
  } else {
    L.paragraph('Vial order: not computed (give --treatment-time, and --calibration-time where the vial label states it).', { sizePt: 8, color: GREY });
  }
  const delivered = obj(plan.delivered);
  if (delivered) {
    const ok = delivered.withinLimits === true;
    L.paragraph(`At the delivered activities of all territories together: ${ok ? 'every limit kept' : 'a limit BROKEN'}`, { sizePt: 8, bold: true, color: ok ? undefined : RED, afterPt: 1 });
    const g = genericRows(delivered, ['constraints', 'coverage', 'structures']);
    L.keyValuesTwoColumns(g.rows, { sizePt: 7.5 });
    for (const [key, title] of [['constraints', 'Limits at the delivered activities'], ['coverage', 'Targets at the delivered activities']] as const) {
      if (arr(delivered[key]).some((x) => obj(x))) drawGenericTable(L, title, arr(delivered[key]));
    }
    for (const [label, text] of g.notes) L.paragraph(`${label}: ${text}`, { sizePt: 6.5, color: GREY, afterPt: 1 });
  }
}

/** A limiting constraint as text: a name, or an object's constraint/name with its territory. */
function constraintText(c: unknown): string {
  const o = obj(c);
  if (!o) return valueText('', c);
  const name = str(o.constraint) ?? str(o.name) ?? str(o.what);
  if (name === undefined) return valueText('', c);
  const where = str(o.territory) ?? str(o.structure);
  return where ? `${name} (${where})` : name;
}

/** A titled table of an array of objects (columns: the union of their keys). */
export function drawGenericTable(L: Layout, title: string, rows: readonly unknown[]): void {
  const t = genericTable(rows);
  L.paragraph(title, { sizePt: 8, bold: true, afterPt: 1 });
  L.table(t.header.map((h) => ({ header: h, wrap: true })), t.rows, { sizePt: 7 });
}

