import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { encodeRtDose, readDicomVolume, rtDoseQuantisation } from '../../src/io/dicom/index.ts';
import { Sha256, deterministicUid } from '../../src/io/dicom/uid.ts';
import { formatDS } from '../../src/io/dicom/writer.ts';
import { type Geometry, type Mat3ColMajor, indexToWorld, worldToIndex } from '../../src/volume/geometry.ts';
import { pydicomAvailable, tempDir, which } from './helpers.ts';

const CHECK = fileURLToPath(new URL('../../../../scripts/check-rtdose.py', import.meta.url));

/** An oblique, anisotropic grid (rotation of 30 degrees about z then 10 about x), optionally left-handed. */
function obliqueGrid(leftHanded: boolean): Geometry {
  const a = Math.PI / 6, b = Math.PI / 18;
  const rz = [Math.cos(a), Math.sin(a), 0, -Math.sin(a), Math.cos(a), 0, 0, 0, 1];
  const c0 = [rz[0], rz[1] * Math.cos(b), rz[1] * Math.sin(b)];
  const c1 = [rz[3], rz[4] * Math.cos(b), rz[4] * Math.sin(b)];
  const c2 = [0, -Math.sin(b), Math.cos(b)].map((x) => (leftHanded ? -x : x));
  return { dims: [7, 5, 6], spacingMm: [2.5, 3.25, 4.1], originLpsMm: [-12.5, 30.75, 101.2], direction: [...c0, ...c1, ...c2] as unknown as Mat3ColMajor };
}

/** Index-encoded dose: every voxel differs, so any flip or permutation shows. */
function indexDose(g: Geometry): Float32Array {
  const n = g.dims[0] * g.dims[1] * g.dims[2];
  return Float32Array.from({ length: n }, (_, q) => 0.37 * q + (q % 7) * 0.011);
}

describe('SHA-256 and UIDs', () => {
  it.each([0, 1, 55, 56, 63, 64, 65, 1000])('matches node:crypto for %i bytes', (n) => {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    expect(new Sha256().update(data).hex()).toBe(createHash('sha256').update(data).digest('hex'));
  });
  it('derives valid 2.25 UIDs, distinct per purpose, stable per digest', () => {
    const d = new Sha256().update('x').digest();
    const u = deterministicUid(d, 'series');
    expect(u).toMatch(/^2\.25\.[1-9][0-9]*$/);
    expect(u.length).toBeLessThanOrEqual(64);
    expect(deterministicUid(d, 'series')).toBe(u);
    expect(deterministicUid(d, 'instance')).not.toBe(u);
    const r = deterministicUid(d, 'series', '1.2.826.0.1.3680043.10.999');
    expect(r.startsWith('1.2.826.0.1.3680043.10.999.')).toBe(true);
    expect(r.length).toBeLessThanOrEqual(64);
    expect(() => deterministicUid(d, 'x', '1.02.3')).toThrow(InputError);
  });
  it('formats decimal strings within 16 characters at full possible precision', () => {
    for (const v of [0, 1, -307.83351077902, 4.7951998710632, 1.23456789012345e-7, -1.5e21, 123456789012345678]) {
      const s = formatDS(v);
      expect(s.length).toBeLessThanOrEqual(16);
      // 16 characters keep at least 10 significant digits, even with a sign and an exponent.
      expect(Math.abs(Number(s) - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-10);
    }
  });
});

describe('encodeRtDose', () => {
  const dir = tempDir('rtdose-');
  for (const leftHanded of [false, true]) {
    it(`round-trips through the project's reader (${leftHanded ? 'left' : 'right'}-handed oblique grid)`, async () => {
      const g = obliqueGrid(leftHanded);
      const data = indexDose(g);
      const bytes = encodeRtDose({ geometry: g, data }, { referencedRtPlan: { sopInstanceUid: '2.25.1' } });
      const path = join(dir, `rd-${leftHanded}.dcm`);
      writeFileSync(path, bytes);
      const { volume, meta } = await readDicomVolume(path);
      expect(meta.modality).toBe('RTDOSE');
      expect(meta.units).toBe('GY');
      let max = 0;
      for (const v of data) max = Math.max(max, v);
      const q = rtDoseQuantisation(max, 16);
      // Quantisation: |error| <= DoseGridScaling / 2 = max / 131070 (16 bit); float32 adds ~1e-7 relative.
      expect(q.maxErrorGy).toBeLessThanOrEqual((max / 65535) * 0.5 * (1 + 1e-9));
      const [nx, ny, nz] = g.dims;
      const w = [0, 0, 0];
      const ix = [0, 0, 0];
      for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
        // Compare at the same world position: the reader may order the slices the other way.
        indexToWorld(g, i, j, k, w);
        worldToIndex(volume.geometry, w[0], w[1], w[2], ix);
        // Positions are written as 16-character decimal strings (>= 10 significant digits): 1e-6 voxel.
        for (const c of ix) expect(Math.abs(c - Math.round(c))).toBeLessThan(1e-6);
        const [a, b, c] = ix.map(Math.round);
        const got = volume.data[a + nx * (b + ny * c)];
        expect(Math.abs(got - data[i + nx * (j + ny * k)])).toBeLessThanOrEqual(q.maxErrorGy + 1e-6 * max);
      }
    });
  }

  it('is byte-identical for the same inputs and differs with the seed', () => {
    const g = obliqueGrid(false);
    const d = { geometry: g, data: indexDose(g) };
    const a = encodeRtDose(d, { deterministicSeed: 's' });
    const b = encodeRtDose({ geometry: { ...g }, data: Float32Array.from(d.data) }, { deterministicSeed: 's' });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(encodeRtDose(d, { deterministicSeed: 't' })).equals(Buffer.from(a))).toBe(false);
  });

  it('refuses negative, non-finite doses and PLAN without a plan reference', () => {
    const g: Geometry = { dims: [2, 2, 1], spacingMm: [1, 1, 1], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    expect(() => encodeRtDose({ geometry: g, data: Float32Array.of(1, -0.5, 0, 0) })).toThrow(InputError);
    expect(() => encodeRtDose({ geometry: g, data: Float32Array.of(1, NaN, 0, 0) })).toThrow(InputError);
    expect(() => encodeRtDose({ geometry: g, data: Float32Array.of(1, 2, 0, 0) }, { doseSummationType: 'PLAN' })).toThrow(/referencedRtPlan/);
    // Round-off below 1e-6 of the maximum is written as 0.
    expect(encodeRtDose({ geometry: g, data: Float32Array.of(1, -1e-9, 0, 0) }).length).toBeGreaterThan(0);
  });

  const py = pydicomAvailable();
  if (!py.ok) console.warn(`skipping pydicom check of RT Dose: ${py.reason}`);
  it.skipIf(!py.ok)('is read by pydicom with the same grid and dose (scripts/check-rtdose.py)', () => {
    const g = obliqueGrid(false);
    const data = indexDose(g);
    const path = join(dir, 'py.dcm');
    writeFileSync(path, encodeRtDose({ geometry: g, data }, { frameOfReference: { patientName: 'Müller^Jürgen', patientId: 'P1' } }));
    const r = spawnSync('/usr/bin/python3', [CHECK, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.doseUnits).toBe('GY');
    expect(out.doseType).toBe('PHYSICAL');
    expect(out.shape).toEqual([g.dims[2], g.dims[1], g.dims[0]]);
    expect(out.patientName).toBe('Müller^Jürgen');
    let sum = 0, max = 0;
    for (const v of data) { sum += v; max = Math.max(max, v); }
    // Sum of n quantised voxels: each within scaling/2.
    expect(Math.abs(out.sumGy - sum)).toBeLessThanOrEqual((data.length * out.doseGridScaling) / 2 + 1e-6 * sum);
    expect(out.maxIndexIjk).toEqual([g.dims[0] - 1, g.dims[1] - 1, g.dims[2] - 1]);
    for (let k = 0; k < g.dims[2]; k++) {
      const w = indexToWorld(g, 0, 0, k);
      for (let a = 0; a < 3; a++) expect(out.framePositions[k][a]).toBeCloseTo(w[a], 6);
    }
  });

  const dciodvfy = which('dciodvfy');
  const dcmdump = which('dcmdump');
  if (!dciodvfy) console.warn('skipping dciodvfy check of RT Dose: dciodvfy is not installed (apt-get install dicom3tools)');
  it.skipIf(!dciodvfy)('has no errors under dciodvfy (default options, and with a plan reference)', () => {
    const g = obliqueGrid(true);
    const d = { geometry: g, data: indexDose(g) };
    for (const [name, opts] of [['default', {}], ['plan', { referencedRtPlan: { sopInstanceUid: '2.25.12345' } }]] as const) {
      const path = join(dir, `v-${name}.dcm`);
      writeFileSync(path, encodeRtDose(d, opts));
      const r = spawnSync(dciodvfy!, [path], { encoding: 'utf8' });
      const text = `${r.stdout}\n${r.stderr}`;
      expect(r.status, text).toBe(0);
      expect(text).not.toMatch(/^Error/m);
    }
  });
  if (!dcmdump) console.warn('skipping dcmdump check of RT Dose: dcmdump is not installed (apt-get install dcmtk)');
  it.skipIf(!dcmdump)('is parsed by dcmtk dcmdump', () => {
    const g = obliqueGrid(false);
    const path = join(dir, 'dump.dcm');
    writeFileSync(path, encodeRtDose({ geometry: g, data: indexDose(g) }));
    const r = spawnSync(dcmdump!, ['-E', path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(3004,0002\) CS \[GY\]/);
    expect(r.stdout).toMatch(/\(0028,0008\) IS \[6\]/);
  });
});
