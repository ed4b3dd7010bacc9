/**
 * Treatment planning without images: closed-form models (MIRD, partition, BSA, 166Ho standard), device presets,
 * radiobiology (BED, EUD) and agreement statistics for predicted vs achieved doses.
 */
export * from './models.ts';
export * from './partition.ts';
export * from './devices.ts';
export * from './radiobiology.ts';
export * from './agreement.ts';
export * from './image.ts';
export * from './compare.ts';
export * from './order.ts';
export * from './time.ts';
export * from './catalogue.ts';
export * from './schedule.ts';
export * from './vials.ts';
export * from './scout.ts';
export * from './scout-agreement.ts';
