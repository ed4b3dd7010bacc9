/**
 * The Kubernetes Indexed Job of `batch` (deploy/k8s/batch-indexed-job.yaml and batch-gather-job.yaml), without a
 * cluster: the manifests are parsed (Debian's python3-yaml) and checked for what the Indexed Job relies on, and then
 * each pod's own command (the container's command and args, as Kubernetes runs them, with the volume's /data mapped to
 * a temporary folder and JOB_COMPLETION_INDEX set to 0, 1, 2 as the Job sets it) runs a three-case manifest; the
 * gather pod's command builds batch.json and the cohort tables. Skips with the reason where python3-yaml is missing.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { phantomCase, tempDir } from './cli-harness.ts';

const root = join(import.meta.dirname, '..', '..');
const python = '/usr/bin/python3';

interface Container {
  name: string;
  workingDir: string;
  command: string[];
  args: string[];
  env?: Array<{ name: string; value: string }>;
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface JobSpec {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    backoffLimitPerIndex?: number;
    podFailurePolicy?: { rules: Array<{ action: string; onExitCodes: { containerName: string; values: number[] } }> };
    template: { spec: { restartPolicy: string; containers: Container[]; volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> } };
  };
}

/** The YAML file as JSON through python3-yaml, or the reason it cannot be read. */
function loadYaml(path: string): JobSpec | string {
  if (!existsSync(python)) return `${python} is not installed`;
  const r = spawnSync(python, ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', path], { encoding: 'utf8' });
  if (r.status !== 0) return `python3-yaml cannot read it (${(r.stderr || '').trim().split('\n').pop()}): apt-get install -y python3-yaml`;
  return JSON.parse(r.stdout) as JobSpec;
}

const jobPath = join(root, 'deploy', 'k8s', 'batch-indexed-job.yaml');
const gatherPath = join(root, 'deploy', 'k8s', 'batch-gather-job.yaml');

/** Runs a container's command as its pod would: in workingDir (the checkout here), /data mapped to `data`. */
function runPod(c: Container, data: string, env: Record<string, string>) {
  const words = [...c.command, ...c.args].map((w) => w.replaceAll('/data', data));
  const [cmd, ...args] = words;
  const podEnv: Record<string, string> = { ...(process.env as Record<string, string>), ...Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value])), ...env };
  return spawnSync(cmd === 'node' ? process.execPath : cmd, args, { cwd: root, env: podEnv, encoding: 'utf8', timeout: 300_000 });
}

describe('batch as a Kubernetes Indexed Job (deploy/k8s)', () => {
  it('the Job is Indexed, a failing case fails only its index, and each pod runs its manifest row by the completion index', async (t) => {
    const job = loadYaml(jobPath);
    const gather = loadYaml(gatherPath);
    if (typeof job === 'string' || typeof gather === 'string') {
      console.log(`skipped: ${typeof job === 'string' ? job : gather}`);
      return t.skip();
    }
    expect([job.apiVersion, job.kind, gather.kind]).toEqual(['batch/v1', 'Job', 'Job']);
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.backoffLimitPerIndex).toBe(0);
    const [pod] = job.spec.template.spec.containers;
    const [gatherPod] = gather.spec.template.spec.containers;
    expect(job.spec.podFailurePolicy?.rules[0]).toMatchObject({ action: 'FailIndex', onExitCodes: { containerName: pod.name } });
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    // both pods mount the same claim at /data and work in the same checkout
    const claim = (s: JobSpec) => s.spec.template.spec.volumes.map((v) => v.persistentVolumeClaim?.claimName);
    expect(claim(job)).toEqual(claim(gather));
    expect(pod.volumeMounts.map((m) => m.mountPath)).toEqual(['/data']);
    expect(gatherPod.volumeMounts.map((m) => m.mountPath)).toEqual(['/data']);
    expect(pod.workingDir).toBe(gatherPod.workingDir);
    expect(pod.args.join(' ')).toMatch(/--case-index "\$JOB_COMPLETION_INDEX"/);
    expect(gatherPod.args).toContain('--gather');

    // a three-case manifest on the "volume" (completions = 3 as in the file)
    const data = tempDir('k8s-data');
    const phantom = await phantomCase();
    mkdirSync(join(data, 'inputs'));
    for (const f of ['activity_counts.nrrd', 'segmentation.seg.nrrd']) copyFileSync(join(phantom, f), join(data, 'inputs', f));
    const dose = (gbq: number) => `--activity inputs/activity_counts.nrrd --activity-unit counts --administered-gbq ${gbq} --segmentation inputs/segmentation.seg.nrrd --liver Liver --tumor 'Tumor A' --tumor 'Tumor B' --lung Lungs --isotope Y90 --method ldm --backend cpu`;
    writeFileSync(join(data, 'manifest.csv'), `case,command,args\nk1,dose,"${dose(1)}"\nk2,dose,"${dose(2)}"\nk3,dose,"${dose(3)}"\n`);
    expect(job.spec.completions).toBe(3);
    for (let index = 0; index < job.spec.completions!; index++) {
      const r = runPod(pod, data, { JOB_COMPLETION_INDEX: String(index) });
      expect(r.status, `index ${index}: ${r.stderr}`).toBe(0);
      expect(existsSync(join(data, 'out', `k${index + 1}`, 'dose.nii.gz'))).toBe(true);
    }
    // an index past the last row is refused with exit 2, which the podFailurePolicy fails without retries
    const past = runPod(pod, data, { JOB_COMPLETION_INDEX: '3' });
    expect(past.status).toBe(2);
    expect(job.spec.podFailurePolicy!.rules[0].onExitCodes.values).toContain(2);
    const g = runPod(gatherPod, data, {});
    expect(g.status, g.stderr).toBe(0);
    const b = JSON.parse(readFileSync(join(data, 'out', 'batch.json'), 'utf8'));
    expect(b.cases.map((c: { case: string; status: string }) => [c.case, c.status])).toEqual([['k1', 'done'], ['k2', 'done'], ['k3', 'done']]);
    expect(readFileSync(join(data, 'out', 'cohort', 'patients.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
    // doses scale with the administered activity: the liver's mean dose of k2 is twice k1's
    const liver = (k: string) => JSON.parse(readFileSync(join(data, 'out', k, 'report.json'), 'utf8')).structures.find((s: { name: string }) => s.name === 'Liver').meanGy;
    expect(liver('k2') / liver('k1')).toBeCloseTo(2, 9);
  }, 300_000);
});
