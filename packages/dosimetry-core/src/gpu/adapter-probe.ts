/**
 * Which WebGPU adapter this Node machine has, learnt without opening it in this process.
 *
 * `--backend auto` must pick the fastest back end, and a software adapter (Mesa's lavapipe, SwiftShader) is slower
 * than the CPU back end, so auto needs the adapter's kind before it decides. Asking Dawn in this process would print
 * its native `Warning: maxDynamic...` lines on stderr when it opens lavapipe (they cannot be silenced from
 * JavaScript), so the question is asked by a short child process whose stderr is discarded, and the answer is kept
 * in the cache folder under a fingerprint of everything that decides it (Node and `webgpu` versions, the Vulkan
 * driver variables and ICD files, the GPU device nodes): a machine that gains a GPU or a driver is probed again.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the probe found: a hardware adapter, only a software one, or none. */
export interface AdapterProbe {
  readonly kind: 'hardware' | 'software' | 'none';
  /** Vendor, architecture, device, description (may be empty). */
  readonly description: string;
  /** Why there is none (kind 'none'). */
  readonly reason?: string;
}

const PROBE_VERSION = 1;

/** The project's software Vulkan driver, used when VK_ICD_FILENAMES is unset (as gpu/device.ts does). */
function projectIcd(): string {
  return fileURLToPath(new URL('../../../../.cache/vulkan/lvp_icd.json', import.meta.url));
}

function cacheDir(): string {
  return process.env.DOSIMETRY_CACHE_DIR ?? fileURLToPath(new URL('../../../../.cache/', import.meta.url));
}

function listing(dir: string): string {
  try {
    return readdirSync(dir)
      .sort()
      .map((n) => {
        try {
          const s = statSync(join(dir, n));
          return `${n}:${s.size}:${Math.round(s.mtimeMs)}`;
        } catch {
          return n;
        }
      })
      .join(',');
  } catch {
    return '-';
  }
}

function webgpuPackage(): { path: string; version: string } | undefined {
  try {
    const req = createRequire(import.meta.url);
    const pkgJson = req.resolve('webgpu/package.json');
    return { path: dirname(pkgJson), version: (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version };
  } catch {
    return undefined;
  }
}

/** The software-renderer test of gpu/wait.ts on the fields of an adapter's info. */
export function isSoftwareAdapterInfo(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter === true || info.architecture === 'software') return true;
  return /llvmpipe|lavapipe|swiftshader|microsoft basic render/i.test(`${info.vendor ?? ''} ${info.device ?? ''} ${info.description ?? ''}`);
}

// The child: opens the adapter and prints its info as JSON on stdout (its stderr, with Dawn's lines, is dropped).
const CHILD = `
const [modPath] = process.argv.slice(1);
const webgpu = require(modPath);
Object.assign(globalThis, webgpu.globals);
const gpu = webgpu.create([]);
gpu.requestAdapter().then((a) => {
  if (!a) { process.stdout.write(JSON.stringify({ none: true })); process.exit(0); }
  const i = a.info || {};
  process.stdout.write(JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    isFallbackAdapter: i.isFallbackAdapter === true || a.isFallbackAdapter === true }));
  process.exit(0);
}, (e) => { process.stdout.write(JSON.stringify({ none: true, error: String(e && e.message || e) })); process.exit(0); });
`;

let memo: AdapterProbe | undefined;

/**
 * The kind of WebGPU adapter this machine offers to Node (cached per fingerprint; about 0.3 s the first time).
 * Never loads Dawn into the calling process.
 */
export function probeNodeAdapter(): AdapterProbe {
  if (memo) return memo;
  const pkg = webgpuPackage();
  if (!pkg) return (memo = { kind: 'none', description: '', reason: "the 'webgpu' npm package is not installed (run pnpm install)" });
  const env = { ...process.env };
  if (!env.VK_ICD_FILENAMES && existsSync(projectIcd())) env.VK_ICD_FILENAMES = projectIcd();
  if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = tmpdir();
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify([
        PROBE_VERSION,
        process.version,
        process.arch,
        pkg.version,
        env.VK_ICD_FILENAMES ?? '',
        env.VK_DRIVER_FILES ?? '',
        env.VK_ADD_DRIVER_FILES ?? '',
        (env.VK_ICD_FILENAMES ?? '').split(':').map((f) => listing(dirname(f))),
        listing('/usr/share/vulkan/icd.d'),
        listing('/etc/vulkan/icd.d'),
        listing('/dev/dri'),
        readdirSafe('/dev').filter((n) => n.startsWith('nvidia')),
      ]),
    )
    .digest('hex')
    .slice(0, 32);
  const file = join(cacheDir(), 'gpu-probe', `${fingerprint}.json`);
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as AdapterProbe;
    if (cached.kind === 'hardware' || cached.kind === 'software' || cached.kind === 'none') return (memo = cached);
  } catch {
    // not probed yet on this fingerprint
  }
  const r = spawnSync(process.execPath, ['-e', CHILD, join(pkg.path)], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 });
  let result: AdapterProbe;
  try {
    const info = JSON.parse(r.stdout) as { none?: boolean; error?: string; vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
    if (info.none) {
      result = {
        kind: 'none',
        description: '',
        reason: `no WebGPU adapter${info.error ? ` (${info.error})` : ''} (VK_ICD_FILENAMES=${env.VK_ICD_FILENAMES ?? 'unset'}); run bash scripts/setup-vulkan.sh for the software driver`,
      };
    } else {
      const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
      result = { kind: isSoftwareAdapterInfo(info) ? 'software' : 'hardware', description };
    }
  } catch {
    result = { kind: 'none', description: '', reason: `the WebGPU probe failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})` };
  }
  try {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(result) + '\n');
    renameSync(tmp, file);
  } catch {
    // a read-only cache only costs the probe next time
  }
  return (memo = result);
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
