/**
 * Image and segmentation IO: readers convert to the one internal frame (LPS mm) and nothing else does.
 */
export * from './atomic.ts';
export * from './files.ts';
export * from './gzip.ts';
export * from './typed.ts';
export * from './nifti.ts';
export * from './nrrd.ts';
export * from './mha.ts';
export * from './labels.ts';
export * from './segmentation.ts';
export * from './read.ts';
export * from './write.ts';
