/**
 * `dosimetry batch --slurm` on a real Slurm: the test brings up a single-node cluster from Debian's packages
 * (slurm-wlm, munge; scripts/bootstrap.mjs installs them) on 127.0.0.1, all of it in a temporary folder: a munge key
 * and munged on its own socket, a slurm.conf (one node with this machine's CPUs and memory, one partition, no cgroups,
 * no accounting, free ports), slurmctld and slurmd in the foreground as child processes. A three-case manifest then
 * runs through `batch --slurm --wait` (a job array and a dependent gather job) and its outputs are checked against
 * separate runs of the same command lines. The daemons are stopped by their PIDs and the folder removed afterwards.
 * Where any step cannot start, the cluster tests skip with the reason printed.
 *
 * The script writer is checked without a cluster: the array range, the dependency, absolute paths, bash syntax.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayScript, gatherScript } from '../../packages/dosimetry-core/src/batch/slurm.ts';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A program's path on the PATH or in the sbin folders (daemons live there), or undefined. */
function which(name: string): string | undefined {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    const p = join(d, name);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

/** A TCP port free on 127.0.0.1 just now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Cluster {
  readonly dir: string;
  readonly conf: string;
  readonly daemons: ChildProcess[];
}

const tail = (p: string, n = 6) => (existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').slice(-n).join(' | ') : '(no log)');

/** Starts a daemon in the foreground with its output in `log`; fails when it exits within `settleMs`. */
async function daemon(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv, daemons: ChildProcess[], settleMs = 300): Promise<ChildProcess> {
  const fd = openSync(log, 'a');
  const p = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  daemons.push(p);
  let exited: number | null | undefined;
  p.once('exit', (code) => (exited = code));
  await sleep(settleMs);
  if (exited !== undefined) throw new Error(`${cmd} exited at once (code ${exited}): ${tail(log)}`);
  return p;
}

/** Brings the cluster up (see the module comment); throws with the reason when a step fails. */
async function startCluster(daemons: ChildProcess[]): Promise<Cluster> {
  const bins = Object.fromEntries(['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo'].map((b) => [b, which(b)]));
  const missing = Object.entries(bins).filter(([, p]) => !p).map(([b]) => b);
  if (missing.length) throw new Error(`${missing.join(', ')} not installed (Debian packages slurm-wlm and munge; scripts/bootstrap.mjs installs them)`);
  const dir = mkdtempSync(join(tmpdir(), 'slurm-'));
  chmodSync(dir, 0o755); // munged wants every folder above its socket searchable by all
  for (const d of ['munge', 'state', 'spool', 'log']) mkdirSync(join(dir, d));
  chmodSync(join(dir, 'munge'), 0o755);
  const key = join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = join(dir, 'munge', 'munge.sock');
  await daemon(bins.munged!, ['--foreground', `--socket=${socket}`, `--key-file=${key}`, `--pid-file=${join(dir, 'munge', 'munged.pid')}`,
    `--log-file=${join(dir, 'log', 'munged.log')}`, `--seed-file=${join(dir, 'munge', 'munged.seed')}`], join(dir, 'log', 'munged.out'), process.env, daemons);
  for (let i = 0; i < 50 && !existsSync(socket); i++) await sleep(100);
  if (!existsSync(socket)) throw new Error(`munged made no socket: ${tail(join(dir, 'log', 'munged.out'))}`);

  // the node as slurmd sees it (CPUs, RealMemory), so that slurmctld accepts its registration
  const probe = spawnSync(bins.slurmd!, ['-C'], { encoding: 'utf8' });
  const cpus = /CPUs=(\d+)/.exec(probe.stdout)?.[1];
  const memMb = /RealMemory=(\d+)/.exec(probe.stdout)?.[1];
  if (!cpus || !memMb) throw new Error(`slurmd -C did not describe the node: ${probe.stderr || probe.stdout}`);
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const user = process.getuid?.() === 0 ? 'root' : userInfo().username;
  const conf = join(dir, 'slurm.conf');
  writeFileSync(conf, [
    'ClusterName=dosimetrytest',
    'SlurmctldHost=localhost(127.0.0.1)',
    `SlurmctldPort=${ctldPort}`,
    `SlurmdPort=${slurmdPort}`,
    `SlurmUser=${user}`,
    `SlurmdUser=${user}`,
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${socket}`,
    `StateSaveLocation=${join(dir, 'state')}`,
    `SlurmdSpoolDir=${join(dir, 'spool')}`,
    `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
    `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
    `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
    `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_CPU',
    'MpiDefault=none',
    'SwitchType=switch/none',
    'ReturnToService=2',
    'SchedulerParameters=sched_min_interval=100000',
    `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${Math.floor(Number(memMb) * 0.9)} State=UNKNOWN`,
    'PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP',
    '',
  ].join('\n'));
  const env = { ...process.env, SLURM_CONF: conf };
  await daemon(bins.slurmctld!, ['-D', '-i'], join(dir, 'log', 'slurmctld.out'), env, daemons, 500);
  await daemon(bins.slurmd!, ['-D', '-N', 'localhost'], join(dir, 'log', 'slurmd.out'), env, daemons, 500);
  let state = '';
  for (let i = 0; i < 120; i++) {
    state = spawnSync(bins.sinfo!, ['--noheader', '--Node', '--format=%T'], { env, encoding: 'utf8' }).stdout.trim();
    if (state === 'idle') return { dir, conf, daemons };
    await sleep(250);
  }
  throw new Error(`the node did not become idle within 30 s (sinfo: "${state}"); slurmctld: ${tail(join(dir, 'log', 'slurmctld.log'))}; slurmd: ${tail(join(dir, 'log', 'slurmd.log'))}`);
}

/** Stops each daemon by its PID (SIGTERM, then SIGKILL after 10 s), in reverse order of start. */
async function stopDaemons(daemons: ChildProcess[]): Promise<void> {
  for (const p of [...daemons].reverse()) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }
}

const daemons: ChildProcess[] = [];
let cluster: Cluster | undefined;
let notStarted: string | undefined;
const savedConf = process.env.SLURM_CONF;

beforeAll(async () => {
  try {
    cluster = await startCluster(daemons);
    process.env.SLURM_CONF = cluster.conf; // sbatch and squeue, as run by the CLI, find the test cluster
  } catch (err) {
    notStarted = (err as Error).message;
    await stopDaemons(daemons);
  }
}, 90_000);

afterAll(async () => {
  await stopDaemons(daemons);
  if (savedConf === undefined) delete process.env.SLURM_CONF;
  else process.env.SLURM_CONF = savedConf;
  const dir = cluster?.dir;
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

const ROLES = ['--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs'];

describe('the sbatch scripts', () => {
  const ctx = { node: '/usr/bin/node', launcher: '/opt/sirt dosimetry/scripts/dosimetry.mjs', manifest: '/data/m.csv', manifestDir: '/data', outDir: '/data/out', caseCount: 3 };
  it('job array: one task per manifest row (0 .. n-1), at most --jobs at once, each running its row with absolute paths', () => {
    const s = arrayScript(ctx, { partition: 'debug', time: '30', mem: '4G', cpusPerTask: 2 });
    expect(s).toMatch(/^#SBATCH --array=0-2$/m);
    expect(s).toMatch(/^#SBATCH --output=\/data\/out\/slurm\/case-%a\.out$/m);
    for (const l of ['#SBATCH --partition=debug', '#SBATCH --time=30', '#SBATCH --mem=4G', '#SBATCH --cpus-per-task=2']) expect(s.split('\n')).toContain(l);
    expect(s).toContain(`exec /usr/bin/node '/opt/sirt dosimetry/scripts/dosimetry.mjs' batch --manifest /data/m.csv --out /data/out --case-index "$SLURM_ARRAY_TASK_ID"`);
    expect(arrayScript(ctx, { maxParallel: 2 })).toMatch(/^#SBATCH --array=0-2%2$/m);
    expect(arrayScript({ ...ctx, caseCount: 1 }, {})).toMatch(/^#SBATCH --array=0-0$/m);
    // every #SBATCH line comes before the first command (sbatch stops reading them there)
    const lines = s.split('\n');
    const firstCommand = lines.findIndex((l) => l !== '' && !l.startsWith('#'));
    expect(lines.slice(firstCommand).some((l) => l.startsWith('#SBATCH'))).toBe(false);
  });
  it('gather job: after every task of the array (afterany), builds batch.json', () => {
    const s = gatherScript(ctx, { partition: 'debug', time: '30', mem: '4G' }, '4711', ['--clinical', '/data/clinical.csv']);
    expect(s).toMatch(/^#SBATCH --dependency=afterany:4711$/m);
    expect(s).not.toMatch(/--mem/);
    expect(s).toMatch(/batch --manifest \/data\/m\.csv --out \/data\/out --gather --clinical \/data\/clinical\.csv$/m);
  });
  it('both are valid bash', (t) => {
    if (spawnSync('bash', ['--version']).status !== 0) {
      console.log('bash is not installed: the scripts cannot be syntax-checked');
      return t.skip();
    }
    for (const s of [arrayScript(ctx, {}), gatherScript(ctx, {}, '1')]) {
      const r = spawnSync('bash', ['-n'], { input: s, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });
});

describe('batch --slurm on a single-node Slurm cluster (127.0.0.1)', () => {
  it('runs a three-case manifest as a job array and a dependent gather job; a resubmission skips every case', async (t) => {
    if (!cluster) {
      console.log(`Slurm tests skipped: ${notStarted}`);
      return t.skip();
    }
    const phantom = await phantomCase();
    const ws = tempDir('batch-slurm');
    mkdirSync(join(ws, 'inputs'));
    for (const f of ['activity_counts.nrrd', 'segmentation.seg.nrrd']) copyFileSync(join(phantom, f), join(ws, 'inputs', f));
    const dose = (gbq: number) => `--activity inputs/activity_counts.nrrd --activity-unit counts --administered-gbq ${gbq} --segmentation inputs/segmentation.seg.nrrd --liver Liver --tumor 'Tumor A' --tumor 'Tumor B' --lung Lungs --isotope Y90 --method ldm --backend cpu`;
    const plan = `--device glass --activity inputs/activity_counts.nrrd --segmentation inputs/segmentation.seg.nrrd --liver Liver --tumor 'Tumor A' --tumor 'Tumor B' --lung Lungs --backend cpu`;
    writeFileSync(join(ws, 'manifest.csv'), `case,command,args\ng1,dose,"${dose(1)}"\ng2,dose,"${dose(2)}"\nscout,plan,"${plan}"\n`);
    const out = join(ws, 'out');
    const argv = ['batch', '--manifest', join(ws, 'manifest.csv'), '--out', out, '--slurm', '--wait', '--poll-s', '0.5', '--wait-timeout-s', '240', '--time', '10', '--cpus-per-task', '1'];
    const r = await runCli(argv);
    expect(r.code, `${r.stderr}\n${existsSync(join(out, 'slurm', 'gather.out')) ? readFileSync(join(out, 'slurm', 'gather.out'), 'utf8') : ''}`).toBe(0);
    const ids = /submitted Slurm job array (\d+) \(3 tasks, .*\) and gather job (\d+) \(afterany:(\d+),/.exec(r.stdout);
    expect(ids, r.stdout).not.toBeNull();
    const [, arrayId, gatherId, after] = ids!;
    expect(after).toBe(arrayId);
    // the scripts Slurm ran
    expect(readFileSync(join(out, 'slurm', 'batch.sbatch'), 'utf8')).toMatch(/^#SBATCH --array=0-2$/m);
    expect(readFileSync(join(out, 'slurm', 'gather.sbatch'), 'utf8')).toMatch(new RegExp(`^#SBATCH --dependency=afterany:${arrayId}$`, 'm'));
    // each task's own output names its case; the gather job wrote batch.json
    for (const [k, id] of ['g1', 'g2', 'scout'].entries()) expect(readFileSync(join(out, 'slurm', `case-${k}.out`), 'utf8')).toMatch(new RegExp(`^case ${id} \\(index ${k}\\): done`, 'm'));
    const b = JSON.parse(readFileSync(join(out, 'batch.json'), 'utf8'));
    expect(b.cases.map((c: { case: string; status: string }) => [c.case, c.status])).toEqual([['g1', 'done'], ['g2', 'done'], ['scout', 'done']]);
    expect(b.run).toEqual({ mode: 'gathered', gatherJobId: gatherId });
    expect(r.stdout).toMatch(/^3 cases: 3 done, 0 skipped \(current\), 0 failed$/m);
    expect(readFileSync(join(out, 'cohort', 'patients.csv'), 'utf8').trim().split('\n')).toHaveLength(4);

    // the outputs equal separate runs of the same command lines
    const sep = tempDir('batch-slurm-sep');
    const words = (gbq: number) => ['dose', '--activity', join(ws, 'inputs', 'activity_counts.nrrd'), '--activity-unit', 'counts', '--administered-gbq', String(gbq),
      '--segmentation', join(ws, 'inputs', 'segmentation.seg.nrrd'), ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'];
    for (const [id, w] of [['g1', words(1)], ['g2', words(2)], ['scout', ['plan', '--device', 'glass', '--activity', join(ws, 'inputs', 'activity_counts.nrrd'), '--segmentation', join(ws, 'inputs', 'segmentation.seg.nrrd'), ...ROLES, '--backend', 'cpu']]] as const) {
      const s = await runCli([...w, '--out', join(sep, id), '--quiet']);
      expect(s.code, s.stderr).toBe(0);
      for (const f of ['report.json', 'dose.nii.gz']) expect(Buffer.compare(readFileSync(join(out, id, f)), readFileSync(join(sep, id, f))), `${id}/${f}`).toBe(0);
    }
    const g1 = JSON.parse(readFileSync(join(out, 'g1', 'report.json'), 'utf8'));
    const g2 = JSON.parse(readFileSync(join(out, 'g2', 'report.json'), 'utf8'));
    for (const [i, s] of g1.structures.entries()) expect(Math.abs(g2.structures[i].meanGy / (2 * s.meanGy) - 1), s.name).toBeLessThan(1e-6);

    // resubmitted: every task finds its case current
    const again = await runCli(argv);
    expect(again.code, again.stderr).toBe(0);
    const b2 = JSON.parse(readFileSync(join(out, 'batch.json'), 'utf8'));
    expect(b2.cases.map((c: { status: string }) => c.status)).toEqual(['skipped', 'skipped', 'skipped']);
  }, 600_000);
});
