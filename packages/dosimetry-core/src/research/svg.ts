/**
 * The research figures moved to ./figures/ (one layout written as SVG and PDF: ROC, Kaplan-Meier, dose-response and
 * group figures sized for a journal column). This module keeps the helpers other code imported from here.
 */
export { niceTicks } from './figures/layout.ts';
export { xmlEscape } from './figures/svg.ts';
