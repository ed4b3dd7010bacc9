/**
 * A figure as a list of drawing items in points (1 pt = 1/72 inch = 25.4/72 mm), origin at the top left, y down,
 * laid out once and written by two back ends (svg.ts, pdf.ts) so that the SVG and the PDF hold the same drawing.
 * Items carry a `role` (the SVG's class) and optional data attributes, so that tests and pages can find the curve,
 * the band or the number-at-risk table in the output.
 */

/** Points per millimetre (72 / 25.4). */
export const PT_PER_MM = 72 / 25.4;

/** Millimetres to points. */
export function mmToPt(mm: number): number {
  return mm * PT_PER_MM;
}

/** Stroke and fill of a path or circle. Colours are "#rrggbb". */
export interface Paint {
  readonly stroke?: string;
  /** Line width [pt]. */
  readonly strokeWidthPt?: number;
  /** Dash pattern [pt], on/off lengths. */
  readonly dashPt?: readonly number[];
  readonly fill?: string;
  /** Opacity of the fill, 0..1 (default 1). */
  readonly fillOpacity?: number;
}

/** A polyline or polygon through points [pt]; several subpaths draw as one path (one fill, even-odd not used). */
export interface PathItem extends Paint {
  readonly kind: 'path';
  readonly role?: string;
  readonly data?: Readonly<Record<string, string>>;
  /** Subpaths, each a list of [x, y] points [pt]. */
  readonly subpaths: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  /** Close each subpath (polygons). */
  readonly closed?: boolean;
}

export interface CircleItem extends Paint {
  readonly kind: 'circle';
  readonly role?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly cx: number;
  readonly cy: number;
  readonly rPt: number;
}

/** Text set on its alphabetic baseline at (x, y) [pt]. */
export interface TextItem {
  readonly kind: 'text';
  readonly role?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly x: number;
  readonly y: number;
  readonly text: string;
  readonly sizePt: number;
  /** Which point of the text's advance lies at x (along the baseline). */
  readonly anchor: 'start' | 'middle' | 'end';
  /** Counter-clockwise rotation as seen on the page [degrees]: 90 reads bottom to top (y axis titles). */
  readonly rotateDeg?: 0 | 90;
  readonly color?: string;
}

export type Item = PathItem | CircleItem | TextItem;

/** A laid-out figure. */
export interface Scene {
  readonly widthPt: number;
  readonly heightPt: number;
  /** Short title (SVG <title>, PDF Title). */
  readonly title: string;
  /** The caption: what is drawn and how it was computed (SVG <desc>, PDF Subject). */
  readonly caption: string;
  readonly items: readonly Item[];
}

/** Rounds a coordinate [pt] to 0.01 pt (0.0035 mm) for output; -0 written as 0. */
export function r2(v: number): number {
  const x = Math.round(v * 100) / 100;
  return x === 0 ? 0 : x;
}
