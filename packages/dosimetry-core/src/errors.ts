/**
 * Typed errors. Every message says what is wrong and how to fix it, in words a physicist understands.
 * The core never logs and carries on: it throws one of these, and the CLI prints `message` on one line.
 */

/** Machine-readable error codes, stable across versions (scripts may switch on them). */
export type DosimetryErrorCode =
  | 'INPUT'
  | 'IO'
  | 'FORMAT'
  | 'GRID'
  | 'UNIT'
  | 'GPU'
  | 'PLAN'
  | 'STATS'
  | 'USAGE'
  | 'MEMORY';

/** Base class of every error the engine throws on purpose. */
export class DosimetryError extends Error {
  readonly code: DosimetryErrorCode;
  constructor(code: DosimetryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A parameter or option value is missing, out of range or inconsistent. */
export class InputError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INPUT', message, options);
  }
}

/** A file is missing, unreadable or cannot be written. */
export class FileError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO', message, options);
  }
}

/** A file was read but its content is malformed, truncated or unsupported. */
export class FormatError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FORMAT', message, options);
  }
}

/** Two volumes do not share a grid, or a mask misses the field of view. */
export class GridError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GRID', message, options);
  }
}

/** A quantity has the wrong or an unknown unit. */
export class UnitError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNIT', message, options);
  }
}

/** WebGPU is unavailable or a GPU operation failed. */
export class GpuError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GPU', message, options);
  }
}

/** A treatment plan cannot be made with the given targets and limits. */
export class PlanError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PLAN', message, options);
  }
}

/** A statistical analysis cannot be run on the given data. */
export class StatsError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STATS', message, options);
  }
}

/** The command line was used wrongly (unknown option, missing value). */
export class UsageError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, options);
  }
}

/** Not enough memory for the job: the message names the grid and the memory it needs. */
export class MemoryError extends DosimetryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MEMORY', message, options);
  }
}

/** Whether `err` is the engine running out of memory (a typed array or ArrayBuffer that could not be allocated). */
export function isOutOfMemory(err: unknown): boolean {
  return err instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer allocation|Invalid array buffer length|out of memory/i.test(err.message);
}
