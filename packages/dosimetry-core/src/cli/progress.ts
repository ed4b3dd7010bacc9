/**
 * Progress messages of long commands, on the terminal only: written to stderr when it is a TTY (or when
 * DOSIMETRY_PROGRESS=1 asks for them), so that a script capturing stderr sees nothing there but the one error line
 * the contract promises. On a TTY each message replaces the previous one on the same line.
 */
export interface Progress {
  /** Shows a message (e.g. "reading activity a.nii.gz"). */
  (message: string): void;
  /** Ends the progress line (before printing results or an error). */
  done(): void;
}

// whether a progress message is on the terminal's current line (to be cleared before other output)
let open = false;

export function progressReporter(quiet: boolean): Progress {
  const tty = process.stderr.isTTY === true;
  const on = !quiet && (tty || process.env.DOSIMETRY_PROGRESS === '1');
  const p = ((message: string) => {
    if (!on) return;
    if (tty) {
      process.stderr.write(`\r  ${message}\x1b[K`);
      open = true;
    } else process.stderr.write(`  ${message}\n`);
  }) as Progress;
  p.done = clearProgressLine;
  return p;
}

/** Clears a progress message from the terminal line (main() calls it before writing an error). */
export function clearProgressLine(): void {
  if (open) process.stderr.write('\r\x1b[K');
  open = false;
}
