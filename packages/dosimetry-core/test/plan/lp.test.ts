/**
 * The LP wrapper (src/plan/lp.ts, HiGHS) against closed forms: textbook problems with known vertices and duals, a
 * family whose optimum is the best ratio c_j / a_j, equality rows and fixed bounds, a degenerate vertex, an edge of
 * optima, and the statuses of unbounded and infeasible models. Tolerance 1e-9: a simplex vertex is the solution of its
 * basis system, exact to rounding for these small models.
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { solveLp, type LinearProgram, type LpOptimum } from '../../src/plan/lp.ts';

const near = (a: number, b: number, tol = 1e-9) => expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));
async function optimum(lp: LinearProgram): Promise<LpOptimum> {
  const r = await solveLp(lp);
  expect(r.status).toBe('optimal');
  return r as LpOptimum;
}

describe('solveLp (HiGHS) against closed forms', () => {
  it('Wyndor Glass (Hillier & Lieberman): max 3x + 5y, x <= 4, 2y <= 12, 3x + 2y <= 18 -> (2, 6), 36, duals (0, 1.5, 1)', async () => {
    const r = await optimum({
      sense: 'maximize',
      columns: [{ name: 'x', cost: 3 }, { name: 'y', cost: 5 }],
      rows: [
        { name: 'plant 1', coefficients: [[0, 1]], upper: 4 },
        { name: 'plant 2', coefficients: [[1, 2]], upper: 12 },
        { name: 'plant 3', coefficients: [[0, 3], [1, 2]], upper: 18 },
      ],
    });
    near(r.values[0], 2);
    near(r.values[1], 6);
    near(r.objective, 36);
    [0, 1.5, 1].forEach((d, i) => near(Math.abs(r.rowDuals[i]), d)); // shadow prices of the textbook
    expect(r.rowAtBound).toEqual([false, true, true]);
    [2, 12, 18].forEach((a, i) => near(r.rowActivities[i], a));
  });

  it('min x + y with x + 2y >= 4, 3x + y >= 6: the intersection (8/5, 6/5)', async () => {
    const r = await optimum({
      sense: 'minimize',
      columns: [{ name: 'x', cost: 1 }, { name: 'y', cost: 1 }],
      rows: [{ name: 'a', coefficients: [[0, 1], [1, 2]], lower: 4 }, { name: 'b', coefficients: [[0, 3], [1, 1]], lower: 6 }],
    });
    near(r.values[0], 8 / 5);
    near(r.values[1], 6 / 5);
    near(r.objective, 14 / 5);
  });

  it('one knapsack row: max sum c_j x_j, sum a_j x_j <= b gives b max_j(c_j / a_j), all on the best ratio', async () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let trial = 0; trial < 20; trial++) {
      const n = 2 + (trial % 6);
      const c = Array.from({ length: n }, () => 0.1 + rand() * 10);
      const a = Array.from({ length: n }, () => 0.1 + rand() * 10);
      const b = 0.5 + rand() * 100;
      const r = await optimum({ sense: 'maximize', columns: c.map((x, j) => ({ name: `x${j}`, cost: x })), rows: [{ name: 'knapsack', coefficients: a.map((x, j) => [j, x]), upper: b }] });
      const ratios = c.map((x, j) => x / a[j]);
      const best = ratios.indexOf(Math.max(...ratios));
      near(r.objective, b * ratios[best]);
      near(r.values[best], b / a[best]);
    }
  });

  it('equality rows and fixed bounds: min 2x + 3y, x + y = 5, 0 <= x <= 3 -> (3, 2); a free variable reaches its row bound', async () => {
    const r = await optimum({ sense: 'minimize', columns: [{ name: 'x', cost: 2, upper: 3 }, { name: 'y', cost: 3 }], rows: [{ name: 'sum', coefficients: [[0, 1], [1, 1]], lower: 5, upper: 5 }] });
    near(r.values[0], 3);
    near(r.values[1], 2);
    near(r.objective, 12);
    const fixed = await optimum({ sense: 'maximize', columns: [{ name: 'x', lower: 1.25, upper: 1.25, cost: 1 }, { name: 'y', cost: 1 }], rows: [{ name: 'r', coefficients: [[0, 2], [1, 1]], upper: 4 }] });
    expect(fixed.values[0]).toBe(1.25);
    near(fixed.values[1], 1.5);
    const free = await optimum({ sense: 'minimize', columns: [{ name: 'x', lower: -Infinity, cost: 1 }], rows: [{ name: 'r', coefficients: [[0, 1]], lower: -7 }] });
    near(free.values[0], -7);
  });

  it('a degenerate vertex (three active rows in two dimensions) and an edge of optima', async () => {
    const r = await optimum({
      sense: 'maximize',
      columns: [{ name: 'x', cost: 1 }, { name: 'y', cost: 1 }],
      rows: [{ name: 'x', coefficients: [[0, 1]], upper: 1 }, { name: 'y', coefficients: [[1, 1]], upper: 1 }, { name: 'x+y', coefficients: [[0, 1], [1, 1]], upper: 2 }],
    });
    near(r.values[0], 1);
    near(r.values[1], 1);
    near(r.objective, 2);
    // max x + y on x + y <= 1: every point of the edge is optimal; the solver returns one of them, feasible
    const e = await optimum({ sense: 'maximize', columns: [{ name: 'x', cost: 1 }, { name: 'y', cost: 1 }], rows: [{ name: 'edge', coefficients: [[0, 1], [1, 1]], upper: 1 }] });
    near(e.objective, 1);
    near(e.values[0] + e.values[1], 1);
    expect(Math.min(e.values[0], e.values[1])).toBeGreaterThanOrEqual(-1e-12);
  });

  it('says unbounded and infeasible instead of returning numbers', async () => {
    const unbounded = await solveLp({ sense: 'maximize', columns: [{ name: 'x', cost: 1 }, { name: 'y' }], rows: [{ name: 'r', coefficients: [[0, 1], [1, -1]], upper: 1 }] });
    expect(unbounded.status).toBe('unbounded');
    const infeasible = await solveLp({ sense: 'minimize', columns: [{ name: 'x', cost: 1 }], rows: [{ name: 'r', coefficients: [[0, 1]], upper: -1 }] });
    expect(infeasible.status).toBe('infeasible');
    const contradictory = await solveLp({ sense: 'minimize', columns: [{ name: 'x' }, { name: 'y' }], rows: [{ name: 'a', coefficients: [[0, 1], [1, 1]], lower: 3 }, { name: 'b', coefficients: [[0, 1], [1, 1]], upper: 2 }] });
    expect(contradictory.status).toBe('infeasible');
    // no variables: rows are the constant 0
    expect((await solveLp({ sense: 'minimize', columns: [], rows: [{ name: 'r', coefficients: [], upper: 1 }] })).status).toBe('optimal');
    expect((await solveLp({ sense: 'minimize', columns: [], rows: [{ name: 'r', coefficients: [], lower: 1 }] })).status).toBe('infeasible');
  });

  it('refuses a malformed model naming the row or column', async () => {
    const col = [{ name: 'x' }];
    await expect(solveLp({ sense: 'minimize', columns: col, rows: [{ name: 'bad', coefficients: [[1, 1]] }] })).rejects.toThrow(/"bad".*column index 1/);
    await expect(solveLp({ sense: 'minimize', columns: col, rows: [{ name: 'nan', coefficients: [[0, NaN]] }] })).rejects.toThrow(InputError);
    await expect(solveLp({ sense: 'minimize', columns: col, rows: [{ name: 'twice', coefficients: [[0, 1], [0, 2]] }] })).rejects.toThrow(/twice/);
    await expect(solveLp({ sense: 'minimize', columns: [{ name: 'x', lower: 2, upper: 1 }], rows: [] })).rejects.toThrow(/"x".*empty/);
  });
});
