import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError, FormatError } from '../../src/errors.ts';
import { compileTransform, eulerMatrix, formatTransformFile, parseTransformFile, readTransformFile, rigidSummary, linearMapOf } from '../../src/io/transform.ts';

const apply = (text: string, p: [number, number, number]) => compileTransform(parseTransformFile(text)).apply(p[0], p[1], p[2], [0, 0, 0]);

describe('ITK transform files', () => {
  it('reads an AffineTransform as 3D Slicer exports it and maps a point as worked out by hand', () => {
    // 90 deg about z (x -> y), centre (10, 0, 0), translation (1, 2, 3). T(p) = M (p - c) + c + t.
    // p = (20, 0, 5): p - c = (10, 0, 5); M (p - c) = (0, 10, 5); + c = (10, 10, 5); + t = (11, 12, 8).
    const slicer = [
      '#Insight Transform File V1.0',
      '#Transform 0',
      'Transform: AffineTransform_double_3_3',
      'Parameters: 0 -1 0 1 0 0 0 0 1 1 2 3',
      'FixedParameters: 10 0 0',
      '',
    ].join('\n');
    const q = apply(slicer, [20, 0, 5]);
    [11, 12, 8].forEach((v, a) => expect(q[a]).toBeCloseTo(v, 12));
  });

  it('reads Euler3D (ITK Z-X-Y order, with centre) and VersorRigid3D consistently', () => {
    // Euler3D about z only by 30 deg, centre (0, 10, 0), translation (0, 0, 5): p = (10, 10, 0) -> c + R (10, 0, 0) + t
    const a = Math.PI / 6;
    const euler = `#Insight Transform File V1.0\n#Transform 0\nTransform: Euler3DTransform_double_3_3\nParameters: 0 0 ${a} 0 0 5\nFixedParameters: 0 10 0 0\n`;
    const q = apply(euler, [10, 10, 0]);
    [10 * Math.cos(a), 10 + 10 * Math.sin(a), 5].forEach((v, i) => expect(q[i]).toBeCloseTo(v, 12));
    // the same rotation as a versor: (0, 0, sin(a/2))
    const versor = `#Insight Transform File V1.0\nTransform: VersorRigid3DTransform_double_3_3\nParameters: 0 0 ${Math.sin(a / 2)} 0 0 5\nFixedParameters: 0 10 0\n`;
    const v = apply(versor, [10, 10, 0]);
    q.forEach((x, i) => expect(v[i]).toBeCloseTo(x, 12));
    // ITK's default Euler order is R = Rz Rx Ry: angles (0.1, 0.2, 0.3) against matrices written out by hand
    const R = eulerMatrix(0.1, 0.2, 0.3);
    const [cx, sx, cy, sy, cz, sz] = [Math.cos(0.1), Math.sin(0.1), Math.cos(0.2), Math.sin(0.2), Math.cos(0.3), Math.sin(0.3)];
    // Rz Rx Ry, element (0,0) = cz cy - sz sx sy; (2,1) = sx; (1,2) = sz sy - cz sx cy... check three elements
    expect(R[0]).toBeCloseTo(cz * cy - sz * sx * sy, 14);
    expect(R[7]).toBeCloseTo(sx, 14);
    expect(R[2]).toBeCloseTo(cz * sy + sz * sx * cy, 14);
    const s = rigidSummary(linearMapOf({ type: 'Euler3DTransform', parameters: [0.1, 0.2, 0.3, 0, 0, 0], fixedParameters: [0, 0, 0] })!);
    [0.1, 0.2, 0.3].forEach((x, i) => expect(s.eulerAnglesDeg[i]).toBeCloseTo((x * 180) / Math.PI, 10));
    expect(s.nonRigidity).toBeLessThan(1e-12);
  });

  it('applies a composite last-listed first, as itk::CompositeTransform does', () => {
    // queue [translation (+10 x), scale-free affine doubling x]: T(p) = Translate(Affine(p)) -> x' = 2x + 10
    const text = [
      '#Insight Transform File V1.0',
      '#Transform 0',
      'Transform: CompositeTransform_double_3_3',
      '#Transform 1',
      'Transform: TranslationTransform_double_3_3',
      'Parameters: 10 0 0',
      'FixedParameters: ',
      '#Transform 2',
      'Transform: AffineTransform_double_3_3',
      'Parameters: 2 0 0 0 1 0 0 0 1 0 0 0',
      'FixedParameters: 0 0 0',
    ].join('\n');
    expect(apply(text, [3, 1, 1])).toEqual([16, 1, 1]);
  });

  it('B-spline: equal coefficients give that displacement everywhere inside (partition of unity), none outside', () => {
    // 6x6x6 nodes, spacing 10 mm, origin (-10,-10,-10): valid region index [1, 3): world [0, 20) on each axis
    const nodes = 216;
    const params = [...Array(nodes).fill(1.5), ...Array(nodes).fill(-2), ...Array(nodes).fill(0.25)];
    const text = `#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: ${params.join(' ')}\nFixedParameters: 6 6 6 -10 -10 -10 10 10 10 1 0 0 0 1 0 0 0 1\n`;
    const q = apply(text, [7.3, 12.1, 19.9]);
    [7.3 + 1.5, 12.1 - 2, 19.9 + 0.25].forEach((v, i) => expect(q[i]).toBeCloseTo(v, 12));
    expect(apply(text, [40, 5, 5])).toEqual([40, 5, 5]);
    // one node's coefficient: the displacement at that node is B3(0) = 2/3 of it, at the next node 1/6
    const one = Array(3 * nodes).fill(0);
    one[2 + 6 * (2 + 6 * 2)] = 6; // x-coefficient of node (2,2,2) at world (10, 10, 10)
    const t1 = `#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: ${one.join(' ')}\nFixedParameters: 6 6 6 -10 -10 -10 10 10 10 1 0 0 0 1 0 0 0 1\n`;
    expect(apply(t1, [10, 10, 10])[0]).toBeCloseTo(10 + 6 * (2 / 3) ** 3, 12);
    expect(apply(t1, [20 - 1e-9, 10, 10])[0]).toBeCloseTo(20 + 6 * (1 / 6) * (2 / 3) ** 2, 6);
  });

  it('round-trips through the text format exactly (composite, every value)', () => {
    const file = {
      transforms: [
        { type: 'BSplineTransform', parameters: Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i) * 1e-3 * Math.PI), fixedParameters: [4, 4, 4, -1.5, -2.25, 3.125, 7.1, 7.2, 7.3, 1, 0, 0, 0, 1, 0, 0, 0, 1] },
        { type: 'Euler3DTransform', parameters: [0.1 / 3, -0.2, 0.3, 20.123456789012345, -1e-7, 5], fixedParameters: [-39, 0, 9.75, 0] },
      ],
    };
    const text = formatTransformFile(file);
    expect(text.split('\n')[0]).toBe('#Insight Transform File V1.0');
    expect(text).toContain('Transform: CompositeTransform_double_3_3');
    expect(parseTransformFile(text)).toEqual(file);
    const single = { transforms: [file.transforms[1]] };
    expect(formatTransformFile(single)).not.toContain('Composite');
    expect(parseTransformFile(formatTransformFile(single))).toEqual(single);
  });

  it('refuses unknown types, non-finite values, wrong counts and non-transform files with one clear line', () => {
    const bad = (text: string, re: RegExp) => {
      let err: unknown;
      try { parseTransformFile(text, 'x.tfm'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    };
    bad('#Insight Transform File V1.0\nTransform: DisplacementFieldTransform_double_3_3\nParameters: 1\nFixedParameters: 1\n', /DisplacementFieldTransform is not supported/);
    bad('#Insight Transform File V1.0\nTransform: Euler3DTransform_double_3_3\nParameters: 0 0 NaN 0 0 0\nFixedParameters: 0 0 0\n', /"NaN" is not a finite number/);
    bad('#Insight Transform File V1.0\nTransform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1\nFixedParameters: 0 0 0\n', /needs 12 parameters, the file gives 9/);
    bad('#Insight Transform File V1.0\nTransform: Euler2DTransform_double_2_2\nParameters: 0 0 0\n', /only 3-D transforms/);
    bad('hello\n', /not an ITK transform file/);
    const dir = mkdtempSync(join(tmpdir(), 'tfm-'));
    expect(() => readTransformFile(join(dir, 'missing.tfm'))).toThrow(FileError);
    writeFileSync(join(dir, 'ok.tfm'), formatTransformFile({ transforms: [{ type: 'TranslationTransform', parameters: [1, 2, 3], fixedParameters: [] }] }));
    expect(compileTransform(readTransformFile(join(dir, 'ok.tfm'))).apply(0, 0, 0, [0, 0, 0])).toEqual([1, 2, 3]);
  });
});
