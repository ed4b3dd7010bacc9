/**
 * Browser checks of the Territories panel on a multi-territory plan case (territory-case.ts: the real
 * `plan --territories` output on the bundled phantom, two half-liver territories). Run for each back end
 * by run.mjs (or run-territories.mjs); each check gets { page, backend, tc, report, shot(name) } and throws on failure.
 * Expected numbers come from the fixture's map files and masks (territory.json) and from report.json's fields, never
 * from the page's own code.
 */
import assert from 'node:assert/strict';
import { decodePng } from './png.mjs';

const rows = (page) =>
  page.locator('[data-testid="structure-row"]').evaluateAll((els) =>
    els.map((e) => ({
      name: e.dataset.name,
      mad: e.querySelector('.mad').textContent,
      v100: e.querySelector('.v100').textContent,
      v205: e.querySelector('.v205').textContent,
      exceeded: e.classList.contains('exceeded'),
    })),
  );

/** Mean dose of each structure at activities A: sum_t A_t x meanGyPerGBq_t (report.json plan.territories). */
function meansAt(report, activities) {
  const out = {};
  for (const s of report.structures) {
    out[s.name] = report.plan.territories.reduce((sum, t, i) => sum + activities[i] * t.structures.find((x) => x.name === s.name).meanGyPerGBq, 0);
  }
  return out;
}

/** Sets one territory's activity through its number box, as a user types it (change event). */
async function typeActivity(page, index, gbq) {
  const box = page.locator('[data-testid="territory-gbq"]').nth(index);
  await box.fill(String(gbq));
  await box.dispatchEvent('change');
  await page.evaluate(() => window.__viewer.renderNow());
}

/** Moves one territory's slider, as a drag does (input events). */
async function slide(page, index, gbq) {
  await page.locator('[data-testid="territory-slider"]').nth(index).evaluate((s, v) => {
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }, gbq);
  await page.evaluate(() => window.__viewer.renderNow());
}

async function readoutAt(page, lps) {
  await page.evaluate((p) => window.__viewer.setCrosshair(p), lps);
  return Number(await page.locator('[data-testid="readout"]').getAttribute('data-dose-gy'));
}

function assertRowsAt(got, report, tc, label, activities, caseV) {
  const want = meansAt(report, activities);
  for (const s of report.structures) {
    const r = got.find((x) => x.name === s.name);
    assert.ok(r, `${label}: row of ${s.name}`);
    const w = want[s.name].toFixed(1);
    assert.equal(r.mad, w === '-0.0' ? '0.0' : w, `${label}: ${s.name} mean ${r.mad} Gy, sum_t A_t x meanGyPerGBq_t = ${want[s.name]} Gy`);
    if (caseV && caseV.v100[s.name] !== undefined) {
      // V-values from the combined map's voxels (exact fractions over the structure's voxels); the table shows % to 0.1.
      for (const [key, vals] of [['v100', caseV.v100], ['v205', caseV.v205]]) {
        assert.ok(Math.abs(Number(r[key]) - 100 * vals[s.name]) <= 0.051, `${label}: ${s.name} ${key} ${r[key]} %, from the maps ${(100 * vals[s.name]).toFixed(3)} %`);
      }
    }
  }
}

/**
 * The plan's limits (report.json plan.constraints) and targets (plan.coverage) at activities A, from their own
 * coefficients: value = prior + sum_t A_t x gyPerGBq_t; a limit broken above it, a target below (slack 1e-6, the
 * planner's float tolerance).
 */
function planRows(report, activities) {
  const at = (k) => (k.priorGy ?? 0) + k.gyPerGBq.reduce((s, g, t) => s + g * activities[t], 0);
  return [
    ...report.plan.constraints.map((k) => ({ name: k.name, planGy: k.valueGy, nowGy: at(k), broken: at(k) > k.limitGy * (1 + 1e-6) })),
    ...report.plan.coverage.map((k) => ({ name: k.id, planGy: k.doseGy, nowGy: at(k), broken: at(k) < k.targetGy * (1 - 1e-6) })),
  ];
}

/** The page's table of plan constraints: name, the value at the plan, now, flagged. */
const constraintTable = (page) =>
  page.locator('[data-testid="constraint-row"]').evaluateAll((els) =>
    els.map((e) => ({ name: e.dataset.name, plan: e.children[2].textContent, now: e.lastElementChild.textContent, broken: e.classList.contains('exceeded') })),
  );

async function axialImage(page) {
  return decodePng(await page.locator('[data-testid="slice-canvas"][data-view="axial"]').screenshot());
}

export const territoryChecks = [
  ['the Territories panel shows one slider per territory, at its planned activity', async ({ page, tc }) => {
    assert.equal(await page.locator('[data-testid="territories"]').isVisible(), true, 'panel shown');
    const terr = await page.locator('[data-testid="territory"]').evaluateAll((els) =>
      els.map((e) => ({
        name: e.dataset.name,
        slider: Number(e.querySelector('[data-testid="territory-slider"]').value),
        max: Number(e.querySelector('[data-testid="territory-slider"]').max),
        box: Number(e.querySelector('[data-testid="territory-gbq"]').value),
      })),
    );
    assert.deepEqual(terr.map((t) => t.name), tc.territories.map((t) => t.name), 'one row per territory, in report order');
    tc.territories.forEach((t, i) => {
      assert.ok(Math.abs(terr[i].slider - t.plannedGBq) < 1e-9, `${t.name}: slider at ${terr[i].slider}, planned ${t.plannedGBq}`);
      assert.ok(Math.abs(terr[i].box - t.plannedGBq) < 5e-4, `${t.name}: box shows ${terr[i].box}`);
      // 2 x the planned activity, or the plan's maximum allowed when it is larger
      assert.ok(Math.abs(terr[i].max - Math.max(2 * t.plannedGBq, t.maxAllowedGBq ?? 0)) < 1e-9, `${t.name}: slider max ${terr[i].max}`);
    });
    assert.equal(await page.locator('[data-testid="activity-slider"]').isVisible(), false, 'the single activity slider gives way to the territories');
    const total = Number(await page.locator('[data-testid="territory-summary"]').getAttribute('data-total-gbq'));
    const want = tc.territories.reduce((s, t) => s + t.plannedGBq, 0);
    assert.ok(Math.abs(total - want) < 1e-9, `total ${total} GBq, planned ${want}`);
    assert.equal(await page.locator('[data-testid="territory-live"]').getAttribute('data-live'), '1', 'every map loaded: the dose view follows the sliders');
    assert.equal(await page.locator('[data-testid="territory-live"]').getAttribute('data-mismatches'), '0', 'the per-GBq means add up to the report');
    // each territory's vial (plan.territories[].order) is said beside its slider
    const notes = await page.locator('[data-testid="territory"] .territory-note').allInnerTexts();
    tc.territories.forEach((t, i) => {
      if (t.deliveredGBq !== undefined) assert.match(notes[i], new RegExp(`vial delivers ${t.deliveredGBq.toFixed(3).replace('.', '\\.')}`), `${t.name}: ${notes[i]}`);
    });
  }],
  ['at the planned activities the table and the readout are the plan\'s', async ({ page, report, tc, shot }) => {
    const got = await rows(page);
    assert.equal(got.length, report.structures.length);
    for (const s of report.structures) {
      assert.equal(got.find((r) => r.name === s.name).mad, s.meanGy.toFixed(1), `${s.name}: report.json mean ${s.meanGy}`);
    }
    assertRowsAt(got, report, tc, 'planned', tc.cases[0].activitiesGBq, tc.cases[0]);
    // the plan keeps every limit and reaches every target at its own activities: nothing flagged there (the targets sit
    // exactly at their value, within the planner's float tolerance)
    assert.equal(await page.locator('[data-testid="territory-broken"]').getAttribute('data-broken'), '0', await page.locator('[data-testid="territory-broken"]').innerText());
    const cons = await constraintTable(page);
    assert.deepEqual(cons.map((x) => x.name), planRows(report, tc.cases[0].activitiesGBq).map((r) => r.name));
    for (const [i, r] of planRows(report, tc.cases[0].activitiesGBq).entries()) {
      assert.equal(cons[i].plan, r.planGy.toFixed(1), `${r.name}: at plan`);
      assert.equal(cons[i].now, r.nowGy.toFixed(1), `${r.name}: now = at plan`);
      assert.equal(cons[i].broken, false, `${r.name} not flagged at the plan`);
    }
    for (const p of tc.probes) {
      const d = await readoutAt(page, p.lps);
      // sum_t A_t map_t = D up to float32 rounding of map_t = D / A_t (1 ulp each): 1e-6 relative
      assert.ok(Math.abs(d / p.doseGy - 1) < 1e-6, `${p.name}: readout ${d} Gy, dose.nii.gz ${p.doseGy} Gy`);
    }
    await shot('territories-planned');
  }],
  ['one territory at 0 GBq leaves exactly the other territory\'s dose: readout, table, V-values, pixels', async ({ page, report, tc, shot }) => {
    const [right, left] = tc.territories;
    const probeB = tc.probes.find((p) => p.name === 'Tumor B');
    const probeA = tc.probes.find((p) => p.name === 'Tumor A');
    // Tumour B (left territory) in the axial view, dose colours at full opacity, no crosshair.
    await page.evaluate((p) => window.__viewer.setCrosshair(p), probeB.lps);
    for (const [id, v] of [['show-crosshair', false], ['opacity', 1], ['threshold', 5]]) {
      await page.evaluate(([i, x]) => {
        const el = document.querySelector(`[data-testid="${i}"]`);
        if (el.type === 'checkbox') el.checked = x;
        else el.value = String(x);
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      }, [id, v]);
    }
    await page.evaluate(() => window.__viewer.renderNow());
    const before = await axialImage(page);
    const [bx, by] = (await page.evaluate((p) => window.__viewer.pixelOf('axial', p), probeB.lps)).map(Math.floor);
    const px = (img, x, y) => Array.from(img.rgba.subarray(4 * (x + img.width * y), 4 * (x + img.width * y) + 3));
    const colouredBefore = px(before, bx, by);
    assert.ok(!(colouredBefore[0] === colouredBefore[1] && colouredBefore[1] === colouredBefore[2]), `Tumour B is coloured at the plan: rgb(${colouredBefore})`);

    await typeActivity(page, 1, 0);
    const act = tc.cases[1].activitiesGBq;
    assert.ok(Math.abs(act[0] - right.plannedGBq) < 1e-12 && act[1] === 0);
    const dA = await readoutAt(page, probeA.lps);
    const wantA = Math.fround(act[0] * probeA.mapGyPerGBq[0]);
    assert.ok(Math.abs(dA / wantA - 1) < 1e-6, `Tumour A with the left lobe at 0: readout ${dA} Gy, A_R x map_R = ${wantA} Gy`);
    const dB = await readoutAt(page, probeB.lps);
    assert.equal(dB, 0, `Tumour B (left lobe) with the left lobe at 0: ${dB} Gy`);
    assertRowsAt(await rows(page), report, tc, 'left lobe at 0', act, tc.cases[1]);
    const after = await axialImage(page);
    const greyAfter = px(after, bx, by);
    assert.ok(greyAfter[0] === greyAfter[1] && greyAfter[1] === greyAfter[2], `Tumour B has no dose colour with its territory at 0: rgb(${greyAfter})`);
    let changed = 0;
    for (let i = 0; i < before.rgba.length; i += 4) if (before.rgba[i] !== after.rgba[i] || before.rgba[i + 1] !== after.rgba[i + 1] || before.rgba[i + 2] !== after.rgba[i + 2]) changed++;
    // the left half of the liver (about a third of the axial slice's liver) loses its colour
    assert.ok(changed > 500, `${changed} axial pixels changed`);
    await shot('territories-left-0');

    // the other way round, through the sliders
    await slide(page, 0, 0);
    await slide(page, 1, left.plannedGBq);
    const act2 = tc.cases[2].activitiesGBq;
    assert.ok(Math.abs(Number(await page.locator('[data-testid="territory-slider"]').nth(1).inputValue()) - act2[1]) < 1e-9);
    const dB2 = await readoutAt(page, probeB.lps);
    const wantB = Math.fround(act2[1] * probeB.mapGyPerGBq[1]);
    assert.ok(Math.abs(dB2 / wantB - 1) < 1e-6, `Tumour B with the right lobe at 0: readout ${dB2} Gy, A_L x map_L = ${wantB} Gy`);
    assert.equal(await readoutAt(page, probeA.lps), 0, 'Tumour A (right lobe) with the right lobe at 0');
    assertRowsAt(await rows(page), report, tc, 'right lobe at 0', act2, tc.cases[2]);
    const r = await page.evaluate(() => window.__viewer.compareDoseWithCpu());
    // WebGPU sums in float32 (two products and one addition, each rounded: <= 3 ulp of the positive sum = 3.6e-7);
    // the CPU back end is the oracle itself (0).
    assert.ok(r.maxRelDiff <= 4e-7, `drawn dose vs CPU oracle: ${r.maxRelDiff} relative (${r.maxAbsDiffGy} Gy) over ${r.voxels} voxels`);
  }],
  ['limits, lung dose and plan constraints follow the activities; reset to plan', async ({ page, report, tc }) => {
    const c = tc.cases[3];
    for (let i = 0; i < c.activitiesGBq.length; i++) await typeActivity(page, i, c.activitiesGBq[i]);
    // the activities the page holds (the boxes show them to 3 decimals)
    const act = (await page.locator('[data-testid="territories"]').getAttribute('data-activities')).split(',').map(Number);
    assert.deepEqual(act, c.activitiesGBq, 'the typed activities are taken as typed');
    const want = meansAt(report, act);
    assertRowsAt(await rows(page), report, tc, c.label, act, undefined);
    const sum = page.locator('[data-testid="territory-summary"]');
    assert.ok(Math.abs(Number(await sum.getAttribute('data-total-gbq')) - (act[0] + act[1])) < 1e-9, 'total activity');
    assert.ok(Math.abs(Number(await sum.getAttribute('data-lung-gy')) - want.Lungs) < 1e-9, `lung dose ${await sum.getAttribute('data-lung-gy')} vs ${want.Lungs}`);
    // 90Y glass limits (plan/devices.ts, EANM 2022) on the structures' means: whole normal liver < 75 Gy, lung < 30 Gy
    const broken = [want['Normal liver'] > 75, want.Lungs > 30].filter(Boolean).length;
    // the plan's own rows at these activities, from their coefficients in report.json
    const rowsNow = planRows(report, act);
    const constraintBroken = rowsNow.filter((r) => r.broken).length;
    assert.ok(broken >= 1 && constraintBroken >= 1, `the case is chosen to break a limit: normal liver ${want['Normal liver']} Gy`);
    const el = page.locator('[data-testid="territory-broken"]');
    assert.equal(Number(await el.getAttribute('data-broken')), broken + constraintBroken, `broken: ${await el.innerText()}`);
    assert.match(await el.innerText(), /Normal liver/);
    assert.match(await el.innerText(), /constraint whole-normal-liver \(voxel\)/);
    const cons = await constraintTable(page);
    assert.deepEqual(cons.map((x) => x.name), rowsNow.map((r) => r.name), 'the plan constraints and targets are listed');
    for (const [i, r] of rowsNow.entries()) {
      assert.equal(cons[i].now, r.nowGy.toFixed(1), `${r.name} now`);
      assert.equal(cons[i].broken, r.broken, `${r.name} flagged`);
    }
    const exceeded = (await rows(page)).filter((r) => r.exceeded).map((r) => r.name).sort();
    assert.deepEqual(exceeded, report.structures.filter((s) => (s.role === 'normal-liver' && want[s.name] > 75) || (s.role === 'lung' && want[s.name] > 30)).map((s) => s.name).sort());

    await page.locator('[data-testid="territory-reset"]').click();
    await page.evaluate(() => window.__viewer.renderNow());
    const back = await rows(page);
    for (const s of report.structures) assert.equal(back.find((r) => r.name === s.name).mad, s.meanGy.toFixed(1), `reset: ${s.name}`);
    // a range input keeps 15 significant digits of its value
    const sliders = await page.locator('[data-testid="territory-slider"]').evaluateAll((els) => els.map((e) => Number(e.value)));
    sliders.forEach((v, i) => assert.ok(Math.abs(v / tc.territories[i].plannedGBq - 1) < 1e-13, `reset: slider ${i} at ${v}`));
    const resetTo = (await page.locator('[data-testid="territories"]').getAttribute('data-activities')).split(',').map(Number);
    assert.deepEqual(resetTo, tc.territories.map((t) => t.plannedGBq), 'reset: the planned activities exactly');
  }],
  ['the views match the CPU oracle pixel for pixel at other activities', async ({ page, tc }) => {
    await page.evaluate((a) => window.__viewer.setTerritoryActivities(a), tc.cases[3].activitiesGBq);
    const r = await page.evaluate(() => window.__viewer.compareWithCpu(2));
    // Same tolerance as the single-dose views: float32 texture sampling vs float64 index arithmetic at voxel edges.
    assert.ok(r.fractionOver <= 0.005, `${(100 * r.fractionOver).toFixed(3)} % of pixels differ by more than 2 levels (max ${r.maxDiff})`);
    await page.evaluate((a) => window.__viewer.setTerritoryActivities(a), tc.territories.map((t) => t.plannedGBq));
  }],
  ['a slider move updates within a frame or two (timing printed)', async ({ page, tc, backend }) => {
    const planned = tc.territories.map((t) => t.plannedGBq);
    const total = [];
    const numbers = [];
    for (let i = 0; i < 11; i++) {
      const f = i % 2 ? 1 : 0.5 + i / 20;
      total.push(await page.evaluate((a) => window.__viewer.setTerritoryActivities(a), [planned[0] * f, planned[1]]));
      numbers.push(await page.evaluate(() => window.__viewer.territoryUpdateMs()));
    }
    const redraw = [];
    for (let i = 0; i < 11; i++) redraw.push(await page.evaluate(() => window.__viewer.renderNow()));
    // medians of the last 10 (the first call warms up)
    const median = (xs) => [...xs.slice(1)].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const size = await page.locator('[data-testid="slice-canvas"]').first().evaluate((c) => c.width);
    console.log(
      `       territory slider update (${backend}, 3 views of ${size} px): ${median(total).toFixed(1)} ms median with drawing; ` +
        `numbers + dose sum ${median(numbers).toFixed(1)} ms; a redraw alone ${median(redraw).toFixed(1)} ms`,
    );
    // Not a speed requirement on this software-rendered machine: the update must finish and give numbers.
    assert.ok(median(total) > 0 && Number.isFinite(median(numbers)));
    await page.evaluate((a) => window.__viewer.setTerritoryActivities(a), planned);
  }],
];

/**
 * Checks of the same case with the left lobe's map named outside the case folder: refused with a warning, the panel
 * still drives the table from the per-GBq means, and says that the dose view stays at the planned activities.
 */
export const refusedMapChecks = [
  ['a map outside the case folder is refused: the table follows the sliders, the dose view stays at the plan', async ({ page, report, tc }) => {
    assert.match(await page.locator('[data-testid="warnings"]').innerText(), /territory Left lobe: dose map not read: .*outside the case folder/);
    const live = page.locator('[data-testid="territory-live"]');
    assert.equal(await live.getAttribute('data-live'), '0');
    assert.match(await live.innerText(), /stay at the planned activities: no dose map for Left lobe/);
    await typeActivity(page, 1, 0);
    const act = tc.cases[1].activitiesGBq;
    assertRowsAt(await rows(page), report, tc, 'left lobe at 0, map refused', act, undefined);
    const probeB = tc.probes.find((p) => p.name === 'Tumor B');
    const d = await readoutAt(page, probeB.lps);
    // dose.nii.gz as written by plan: the planned dose, not a recomputed one
    assert.ok(Math.abs(d / probeB.doseGy - 1) < 1e-6, `readout ${d} Gy, planned ${probeB.doseGy} Gy`);
  }],
];
