/**
 * Bad input to `dosimetry dose`: each case gives one clear line on stderr (saying what is wrong), a non-zero exit,
 * and writes nothing. Table-driven: every row builds its broken input from the phantom in a temp folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNifti, encodeSegNrrd, readSegmentation, readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

let dir: string;
let work: string;
let act: { geometry: { dims: number[] }; data: Float32Array };

beforeAll(async () => {
  dir = await phantomCase();
  work = tempDir('bad-input');
  act = (await readVolume(join(dir, 'activity_bqml.nii.gz'))) as unknown as typeof act;
});

/** An uncompressed NIfTI-1 of the phantom activity with `patch` applied to its bytes. */
function patchedNifti(name: string, patch: (dv: DataView, bytes: Uint8Array) => Uint8Array | void): string {
  const bytes = encodeNifti(act as never, { gzip: false });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = patch(dv, bytes) ?? bytes;
  const f = join(work, name);
  writeFileSync(f, out);
  return f;
}

/** A small raw NRRD with the given header fields and `n` float32 zeros as data. */
function rawNrrd(name: string, fields: string[], n: number): string {
  const header = ['NRRD0004', 'type: float', 'endian: little', 'encoding: raw', ...fields].join('\n') + '\n\n';
  const f = join(work, name);
  writeFileSync(f, Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from(new Float32Array(n).fill(1000).buffer)]));
  return f;
}

interface Case {
  readonly what: string;
  /** Builds the argument list (without --out); `ok` is the standard valid argument list to start from. */
  readonly args: (ok: () => Record<string, string | string[] | true>) => Record<string, string | string[] | true | undefined>;
  /** What the error line must say. */
  readonly says: RegExp;
  /** Words appended to the command line as they are (stray arguments). */
  readonly extra?: readonly string[];
  /** The --out value (default: a fresh path that must not exist afterwards). */
  readonly out?: () => string;
}

/** An activity image with the phantom's grid and `f` applied to each of its values. */
function mappedActivity(name: string, f: (v: number, n: number) => number): string {
  const data = Float32Array.from(act.data, f);
  const file = join(work, name);
  writeFileSync(file, encodeNifti({ geometry: act.geometry, data } as never));
  return file;
}

const CASES: Case[] = [
  { what: 'missing activity file', args: (ok) => ({ ...ok(), activity: join(work, 'nope.nii.gz') }), says: /nope\.nii\.gz.*(not found|does not exist|no such)/i },
  { what: 'missing segmentation file', args: (ok) => ({ ...ok(), segmentation: join(work, 'nope.seg.nrrd') }), says: /nope\.seg\.nrrd/ },
  { what: 'unreadable (a folder given as a file)', args: (ok) => ({ ...ok(), activity: work }), says: /bad-input/ },
  {
    what: 'truncated gzip',
    args: (ok) => {
      const f = join(work, 'truncated.nii.gz');
      const b = readFileSync(join(dir, 'activity_bqml.nii.gz'));
      writeFileSync(f, b.subarray(0, Math.floor(b.length / 2)));
      return { ...ok(), activity: f };
    },
    says: /truncated\.nii\.gz.*(gzip|truncated|corrupt)/i,
  },
  {
    what: 'corrupt gzip',
    args: (ok) => {
      const f = join(work, 'corrupt.nii.gz');
      const b = Buffer.from(readFileSync(join(dir, 'activity_bqml.nii.gz')));
      for (let i = 40; i < b.length - 40; i += 7) b[i] ^= 0x5a;
      writeFileSync(f, b);
      return { ...ok(), activity: f };
    },
    says: /corrupt\.nii\.gz.*(gzip|corrupt|invalid|truncated)/i,
  },
  {
    what: 'header that disagrees with the data size (NIfTI)',
    args: (ok) => ({ ...ok(), activity: patchedNifti('short.nii', (_dv, b) => b.subarray(0, b.length - 1000)) }),
    says: /short\.nii.*(bytes|size|truncated|expected)/i,
  },
  {
    what: 'header that disagrees with the data size (NRRD)',
    args: (ok) => ({ ...ok(), activity: rawNrrd('short.nrrd', ['dimension: 3', 'sizes: 10 10 10', 'space: left-posterior-superior', 'space directions: (2,0,0) (0,2,0) (0,0,2)', 'space origin: (0,0,0)'], 999) }),
    says: /short\.nrrd.*(bytes|size|expected)/i,
  },
  {
    what: '4-D activity image',
    args: (ok) => ({
      ...ok(),
      activity: patchedNifti('four-d.nii', (dv, b) => {
        dv.setInt16(40, 4, true);
        dv.setInt16(48, 2, true);
        const data = b.subarray(352);
        const out = new Uint8Array(b.length + data.length);
        out.set(b);
        out.set(data, b.length);
        return out;
      }),
    }),
    says: /4-D|four|3-D|dimension/i,
  },
  {
    what: 'NaN activity',
    args: (ok) => {
      const data = Float32Array.from(act.data);
      data[12345] = NaN;
      const f = join(work, 'nan.nii.gz');
      writeFileSync(f, encodeNifti({ geometry: act.geometry, data } as never));
      return { ...ok(), activity: f };
    },
    says: /NaN|not a number|non-finite|finite/i,
  },
  {
    what: 'infinite activity',
    args: (ok) => {
      const data = Float32Array.from(act.data);
      data[777] = Infinity;
      const f = join(work, 'inf.nii.gz');
      writeFileSync(f, encodeNifti({ geometry: act.geometry, data } as never));
      return { ...ok(), activity: f };
    },
    says: /infinite|non-finite|finite|Inf/i,
  },
  {
    what: 'zero spacing (NRRD)',
    args: (ok) => ({ ...ok(), activity: rawNrrd('zero.nrrd', ['dimension: 3', 'sizes: 4 4 4', 'space: left-posterior-superior', 'space directions: (0,0,0) (0,2,0) (0,0,2)', 'space origin: (0,0,0)'], 64) }),
    says: /zero\.nrrd.*(spacing|direction|zero|singular)/i,
  },
  {
    what: 'negative spacing (NIfTI pixdim, no qform/sform)',
    args: (ok) => ({
      ...ok(),
      activity: patchedNifti('negative.nii', (dv) => {
        dv.setInt16(252, 0, true); // qform_code
        dv.setInt16(254, 0, true); // sform_code
        dv.setFloat32(80, -3.2, true); // pixdim[1]
      }),
    }),
    says: /negative\.nii.*(spacing|pixdim)/i,
  },
  { what: 'a segment name that does not exist', args: (ok) => ({ ...ok(), tumor: ['Tumor A', 'Tumor Z'] }), says: /"Tumor Z" not found.*"Tumor A"/ },
  { what: 'counts without --administered-gbq', args: (ok) => ({ ...ok(), 'activity-unit': 'counts' }), says: /administered-gbq/ },
  { what: 'LSF of 1', args: (ok) => ({ ...ok(), 'activity-unit': 'counts', 'administered-gbq': '2', 'lung-shunt-fraction': '1' }), says: /lung.shunt|LSF/i },
  { what: 'negative LSF', args: (ok) => ({ ...ok(), 'activity-unit': 'counts', 'administered-gbq': '2', 'lung-shunt-fraction': '-0.1' }), says: /lung.shunt|LSF/i },
  { what: 'LSF not a number', args: (ok) => ({ ...ok(), 'activity-unit': 'counts', 'administered-gbq': '2', 'lung-shunt-fraction': 'ten' }), says: /lung-shunt-fraction|number/i },
  { what: 'zero administered activity', args: (ok) => ({ ...ok(), 'activity-unit': 'counts', 'administered-gbq': '0' }), says: /administered/i },
  {
    what: 'a mask outside the field of view',
    args: (ok) => {
      const f = join(work, 'far.seg.nrrd');
      return { ...ok(), segmentation: [ok().segmentation as string, f], tumor: ['Far away'] };
    },
    says: /Far away.*field of view/i,
  },
  { what: 'an unknown isotope', args: (ok) => ({ ...ok(), isotope: 'I131' }), says: /I131/ },
  { what: 'an unknown method', args: (ok) => ({ ...ok(), method: 'montecarlo' }), says: /montecarlo.*ldm or dvk/ },
  { what: 'an unknown activity unit', args: (ok) => ({ ...ok(), 'activity-unit': 'mCi' }), says: /mCi/ },
  { what: 'an unknown back end', args: (ok) => ({ ...ok(), backend: 'cuda' }), says: /cuda/ },
  { what: 'a density that is not physical', args: (ok) => ({ ...ok(), density: '-1' }), says: /density/i },
  { what: 'a negative scan delay', args: (ok) => ({ ...ok(), 'scan-delay-h': '-5' }), says: /scan.delay/i },
  { what: 'an unknown option', args: (ok) => ({ ...ok(), 'lung-shunt': '0.1' }), says: /lung-shunt/ },
  { what: 'no --liver', args: (ok) => ({ ...ok(), liver: undefined }), says: /--liver/ },
  // issue 11: ordinary mistakes that gave a wrong dose with exit 0
  { what: 'a stray positional argument (--tumor A B)', args: (ok) => ({ ...ok(), tumor: undefined }), extra: ['--tumor', 'Tumor A', 'Tumor B'], says: /unexpected argument "Tumor B" after --tumor "Tumor A".*--tumor "Tumor B"/ },
  { what: 'a repeated single-valued option', args: (ok) => ({ ...ok(), perfused: ['Liver', 'Tumor B'] }), says: /--perfused was given twice/ },
  { what: 'Bq/mL from NIfTI without --scan-delay-h', args: (ok) => ({ ...ok(), 'scan-delay-h': undefined }), says: /--scan-delay-h is required.*no acquisition timing.*--scan-delay-h 0/ },
  { what: 'an activity image of zeros', args: (ok) => ({ ...ok(), activity: mappedActivity('zeros.nii.gz', () => 0) }), says: /only zeros/ },
  { what: 'an all-negative activity image', args: (ok) => ({ ...ok(), activity: mappedActivity('all-negative.nii.gz', (v) => -Math.abs(v) - 1) }), says: /negative.*sign/ },
  { what: 'a mostly negative activity image', args: (ok) => ({ ...ok(), activity: mappedActivity('mostly-negative.nii.gz', (v, n) => (n % 4 === 0 ? v : -v)) }), says: /mostly negative.*%/ },
  { what: 'values near the float32 limit', args: (ok) => ({ ...ok(), activity: mappedActivity('float-max.nii.gz', (v, n) => (n === 4321 ? 3.3e38 : v)) }), says: /voxel 4321.*largest number a float32/ },
  { what: 'a Bq/mL image holding far more than any implant', args: (ok) => ({ ...ok(), activity: mappedActivity('kilo.nii.gz', (v) => v * 1000) }), says: /GBq at implant.*more than any radioembolization/ },
  { what: 'administered activity in MBq', args: (ok) => ({ ...ok(), 'activity-unit': 'counts', 'scan-delay-h': undefined, 'administered-gbq': '2000' }), says: /2000 GBq.*--administered-gbq 2/ },
  { what: '--restrict-to a structure that does not exist', args: (ok) => ({ ...ok(), 'restrict-to': 'Liverr' }), says: /"Liverr" not found.*"Liver"/ },
  { what: 'a soft-tissue density that is a slip', args: (ok) => ({ ...ok(), density: '0.0001' }), says: /--density 0\.0001 g\/mL is not a plausible density.*0\.3-3/ },
  { what: 'a scan delay far beyond the half-life (minutes?)', args: (ok) => ({ ...ok(), 'scan-delay-h': '100000' }), says: /--scan-delay-h 100000 is \d+\.\d half-lives of Y90/ },
  // the output folder
  { what: 'an empty --out', args: (ok) => ok(), out: () => '', says: /--out is empty/ },
  { what: '--out a folder that holds an input', args: (ok) => ok(), out: () => dir, says: /holds the input/ },
  { what: '--out inside an input folder', args: (ok) => ({ ...ok(), activity: inputFolderCase() }), out: () => join(work, 'dicom-like', 'out'), says: /inside the input folder/ },
  { what: '--out a folder of files the engine did not write', args: (ok) => ok(), out: () => foreignFolder(), says: /did not write \("notes\.txt"\)/ },
  { what: '--out a file', args: (ok) => ok(), out: () => join(dir, 'expected.json'), says: /is a file/ },
  { what: '--out under /proc (Node loops forever making it)', args: (ok) => ok(), out: () => '/proc/x/y', says: /\/proc\/x\/y/ },
  { what: '--out locked by a running process', args: (ok) => ok(), out: () => lockedFolder(), says: /being written by another dosimetry run \(pid \d+\)/ },
];

/** A folder holding the activity image (as a DICOM folder would). */
function inputFolderCase(): string {
  const d = join(work, 'dicom-like');
  mkdirSync(d, { recursive: true });
  return d;
}

/** A folder holding a file the engine did not write. */
function foreignFolder(): string {
  const d = join(work, 'foreign');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'notes.txt'), 'mine');
  return d;
}

/** An output folder whose lock is held by a live process (this test's parent). */
function lockedFolder(): string {
  const d = join(work, 'locked');
  writeFileSync(join(work, '.locked.lock'), JSON.stringify({ pid: process.ppid, host: hostname() }));
  return d;
}

function argv(o: Record<string, string | string[] | true | undefined>, out: string, extra: readonly string[] = []): string[] {
  const a: string[] = ['dose'];
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (v === true) a.push(`--${k}`);
    else for (const x of Array.isArray(v) ? v : [v]) a.push(`--${k}`, x);
  }
  return [...a, ...extra, '--out', out, '--quiet'];
}

/** Every file under `d` with its size and modification time (to see that a refused run left it as it was). */
function snapshot(d: string): string {
  if (!existsSync(d)) return '';
  if (!statSync(d).isDirectory()) return `${statSync(d).size}:${statSync(d).mtimeMs}`;
  return readdirSync(d, { recursive: true, withFileTypes: false })
    .map(String)
    .sort()
    .map((f) => {
      const st = statSync(join(d, f));
      return `${f}:${st.size}:${st.mtimeMs}`;
    })
    .join('\n');
}

describe('dose: bad input gives one clear line, a non-zero exit and no output', () => {
  const ok = () => ({
    activity: join(dir, 'activity_bqml.nii.gz'),
    'activity-unit': 'bq-per-ml',
    'scan-delay-h': '0',
    segmentation: join(dir, 'segmentation.seg.nrrd'),
    liver: 'Liver',
    tumor: ['Tumor A'],
    isotope: 'Y90',
    method: 'ldm',
    backend: 'cpu',
  });

  beforeAll(async () => {
    // The far-away mask for the field-of-view row: Tumor A moved 2 m along x.
    const a = (await readSegmentation(join(dir, 'segmentation.seg.nrrd'))).find((m) => m.name === 'Tumor A')!;
    const g = { ...a.geometry, originLpsMm: [a.geometry.originLpsMm[0] + 2000, a.geometry.originLpsMm[1], a.geometry.originLpsMm[2]] as [number, number, number] };
    writeFileSync(join(work, 'far.seg.nrrd'), encodeSegNrrd([{ ...a, name: 'Far away', geometry: g }]));
  });

  it('the valid baseline runs', async () => {
    const out = join(work, 'baseline');
    const r = await runCli(argv(ok(), out));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
  });

  it.each(CASES.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const out = c.out ? c.out() : join(work, `out-${c.what.replace(/\W+/g, '-')}`);
    const before = c.out && out !== '' ? snapshot(out) : '';
    const r = await runCli(argv(c.args(ok), out, c.extra));
    expect(r.code, r.stderr).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^dosimetry dose: /);
    expect(lines[0]).not.toMatch(/unexpected error/);
    expect(lines[0]).toMatch(c.says);
    if (process.env.SHOW_ERRORS) console.log(`${c.what}: ${lines[0]}`);
    expect(r.stdout).toBe('');
    if (c.out) expect(out === '' ? '' : snapshot(out), 'the folder is left as it was').toBe(before);
    else expect(existsSync(out), 'no output folder').toBe(false);
  });

  it('the real command line prints the same one line and exits non-zero', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const out = join(work, 'spawned');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'packages/dosimetry-core/src/cli/main.ts',
      ...argv({ ...ok(), isotope: 'I131' }, out).filter((x) => x !== '--quiet')], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^dosimetry dose: .*I131/);
    expect(existsSync(out)).toBe(false);
  });
});
