export * from './geometry.ts';
export * from './volume.ts';
export * from './orientation.ts';
export * from './structure.ts';
export * from './resample.ts';
export * from './mask-mass.ts';
