/**
 * Whether a case of a batch must be computed: its folder DIR/CASE is skipped only when it holds a complete output set
 * (src/io/output-set.ts: manifest.json, every listed file present with its size) made by the same command line, from
 * inputs with the same SHA-256 as the set's manifest records, by the same engine version. Anything else (no folder, a
 * set of an older run with other options, a changed input, a missing file, a manifest without a run record) is
 * recomputed, and the reason is said. A case killed half-way left either the previous complete set or nothing but
 * hidden leftovers and a dead owner's lock, which the next claim of the folder cleans up (output-set.ts).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { sha256OfPath } from '../io/hash.ts';
import { outputLockOwner, readOutputManifest, withoutOutOption } from '../io/output-set.ts';
import { ENGINE_VERSION } from '../version.ts';
import type { BatchCase } from './manifest.ts';

/** The command line a case runs with (after the command name): its args and its output folder. */
export function caseArgv(c: BatchCase, caseDir: string): string[] {
  return [...c.args, '--out', caseDir];
}

/** The verdict on a case's folder: `current` (skip it) or why it is computed. */
export interface CaseState {
  readonly current: boolean;
  /** Why the case is computed (when not current), in words. */
  readonly reason?: string;
}

const sameArgv = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Checks DIR/CASE (see the module comment). Reads every recorded input (SHA-256); never throws. */
export function caseState(c: BatchCase, caseDir: string): CaseState {
  const m = readOutputManifest(caseDir);
  if (!m) return { current: false, reason: 'no complete outputs yet' };
  if (m.command !== c.command) return { current: false, reason: `its folder holds ${m.command} outputs` };
  if (!m.run) return { current: false, reason: 'its outputs do not record how they were made (written before batch existed)' };
  if (!sameArgv(m.run.argv, withoutOutOption(caseArgv(c, caseDir)))) return { current: false, reason: 'its command line changed' };
  if (m.run.version !== ENGINE_VERSION) return { current: false, reason: `its outputs were made by engine ${m.run.version}, this is ${ENGINE_VERSION}` };
  for (const f of m.files) {
    let bytes: number | undefined;
    try {
      bytes = statSync(join(caseDir, f.name)).size;
    } catch {
      bytes = undefined;
    }
    if (bytes !== f.bytes) return { current: false, reason: `its output ${f.name} is ${bytes === undefined ? 'missing' : `${bytes} bytes, not the ${f.bytes} its manifest lists`}` };
  }
  for (const input of m.run.inputs) {
    let sha: string | undefined;
    try {
      sha = sha256OfPath(input.path);
    } catch {
      sha = undefined;
    }
    if (sha === undefined) return { current: false, reason: `its input ${input.path} cannot be read any more` };
    if (sha !== input.sha256) return { current: false, reason: `its input ${input.path} changed` };
  }
  return { current: true };
}

/**
 * Waits while a process of this machine holds the case folder's lock (a case left running by a batch that was killed
 * with SIGKILL goes on to the end, or a run started by hand): polling every `pollMs`. Calls `onWait(pid)` once when it
 * has to wait. A lock taken on another host is not waited for (the case's own claim reports it).
 */
export async function waitForCaseLock(caseDir: string, onWait: (pid: number) => void, pollMs = 200): Promise<void> {
  let said = false;
  for (;;) {
    const owner = outputLockOwner(caseDir);
    if (typeof owner !== 'number' || owner === process.pid) return;
    if (!said) onWait(owner);
    said = true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
