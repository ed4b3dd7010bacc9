/**
 * `--labels` option values: an inline table "1=Liver,2=Tumor A", or `@FILE`, a label table file (ITK-SNAP label
 * description, 3D Slicer color table or JSON; see label-table.ts). Node only (reads the file).
 */
import { FormatError, UsageError } from '../errors.ts';
import { readFileBytes } from './files.ts';
import { type LabelTable, parseLabelTableText } from './label-table.ts';

/** The largest label table file read [bytes]: a table of thousands of labels is a few hundred kB. */
export const MAX_LABEL_TABLE_BYTES = 16 * 1024 * 1024;

/** Reads and parses a label table file (FileError when unreadable, FormatError naming file and line when malformed). */
export function readLabelTableFile(path: string): LabelTable {
  const bytes = readFileBytes(path, 'label table');
  if (bytes.length > MAX_LABEL_TABLE_BYTES) {
    throw new FormatError(`label table ${path} is ${bytes.length} bytes, more than a label table holds (${MAX_LABEL_TABLE_BYTES}); give the ITK-SNAP, 3D Slicer or JSON table, not an image`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new FormatError(`label table ${path} is not UTF-8 text; give an ITK-SNAP label description, a 3D Slicer color table (.ctbl/.txt) or a JSON file`, { cause: err });
  }
  return parseLabelTableText(text, path);
}

/**
 * The table a `--labels` value names: `@FILE` read from the file, anything else kept as the inline text (parsed by
 * `labelMapToStructures`). `@` alone is a UsageError.
 */
export function resolveLabelsOption(value: string): string | LabelTable {
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  if (path.trim() === '') throw new UsageError('--labels @FILE: the file name is missing after @; e.g. --labels @labels.txt');
  return readLabelTableFile(path);
}
