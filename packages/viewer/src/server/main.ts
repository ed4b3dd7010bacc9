/**
 * `pnpm viewer [CASE_DIR] [--port N] [--inputs-root DIR]`: serves the viewer on 127.0.0.1 and prints its URL on one
 * line. CASE_DIR: a dose output folder (report.json) or a cohort folder (SVG plots, CSV tables). Without it the
 * current folder is shown when it is one of those, else an empty page that computes cases from dropped files.
 * Compare mode (compare.ts): CASE_DIR an output folder of `dosimetry compare` (compare.json), or `--compare PLANNED_DIR
 * ACHIEVED_DIR`: both cases side by side with the difference map.
 * Errors: one line on stderr, exit 1.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './core.ts';
import { startViewerServer } from './server.ts';

const USAGE = 'usage: pnpm viewer [CASE_DIR | COMPARE_DIR] [--compare PLANNED_DIR ACHIEVED_DIR] [--port N] [--inputs-root DIR]';

/** Parses the viewer's command line. */
export function parseViewerArgs(argv: readonly string[]): { caseDir?: string; port?: number; inputRoots?: string[]; compareCases?: [string, string] } {
  let caseDir: string | undefined;
  let port: number | undefined;
  let compareCases: [string, string] | undefined;
  const roots: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (a === '--help' || a === '-h') throw new UsageError(USAGE);
    if (a === '--compare') {
      const p = argv[++i], q = argv[++i];
      if (p === undefined || q === undefined || p.startsWith('-') || q.startsWith('-')) throw new UsageError(`viewer: --compare needs two case folders (planned, achieved); ${USAGE}`);
      compareCases = [resolve(p), resolve(q)];
      continue;
    }
    if (a === '--port' || a === '--inputs-root') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`viewer: ${a} needs a value; ${USAGE}`);
      if (a === '--port') {
        port = Number(v);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`viewer: --port ${v} is not a port number (0..65535)`);
      } else roots.push(resolve(v));
    } else if (a.startsWith('-')) throw new UsageError(`viewer: unknown option ${a}; ${USAGE}`);
    else if (caseDir === undefined) caseDir = a;
    else throw new UsageError(`viewer: one case folder only (got ${caseDir} and ${a}); ${USAGE}`);
  }
  if (compareCases) return { ...(caseDir !== undefined ? { caseDir: resolve(caseDir) } : {}), port, compareCases, ...(roots.length ? { inputRoots: [...roots, process.cwd()] } : {}) };
  return { caseDir: caseDir !== undefined ? resolve(caseDir) : showableCwd(), port, ...(roots.length ? { inputRoots: [...roots, process.cwd()] } : {}) };
}

/** The current folder when it holds a case or cohort outputs, else undefined (empty page). */
function showableCwd(): string | undefined {
  const cwd = process.cwd();
  if (existsSync(join(cwd, 'report.json')) || existsSync(join(cwd, 'compare.json'))) return cwd;
  return readdirSync(cwd).some((n) => /\.(svg|csv)$/i.test(n)) ? cwd : undefined;
}

async function main(): Promise<number> {
  // pnpm runs scripts from the workspace root; INIT_CWD is where the user typed the command.
  if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
  const args = parseViewerArgs(process.argv.slice(2));
  const server = await startViewerServer(args);
  process.stdout.write(`${server.url}\n`);
  for (const w of server.case?.warnings ?? server.compare?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return 0;
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message.split('\n')[0]}\n`);
  process.exit(1);
});
