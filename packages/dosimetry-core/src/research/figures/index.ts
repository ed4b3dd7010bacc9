/**
 * Journal figures of the research commands, written as SVG and PDF from one layout: ROC with its confidence band,
 * Kaplan-Meier with bands and a number-at-risk table, the logistic dose-response curve with its band and D50, and
 * group box plots with their tests. Sizes in mm, text and lines in pt. Runs in Node and in the viewer's page.
 */
export { rocFigure, type RocFigureInput } from './roc.ts';
export { kmFigure, type KmFigureInput } from './km.ts';
export { doseResponseFigure, type DoseResponseFigureInput } from './dose-response.ts';
export { groupsFigure, type GroupsFigureInput, type GroupTest } from './groups.ts';
export { DEFAULT_FIGURE_STYLE, FIGURE_LIMITS, checkFigureStyle, niceTicks, type FigureStyle } from './layout.ts';
export { sceneToSvg, xmlEscape } from './svg.ts';
export { sceneToPdf, checkPdfText } from './pdf.ts';
export { PT_PER_MM, mmToPt, type Scene } from './scene.ts';
export { axisLabel, formatPValue, splitColumnUnit } from './text.ts';
export { figureFromTable, type TableFigureKind, type TableFigureRequest } from './from-table.ts';
