/** Engine version written into every report's provenance. Bump with any change to numerical results. */
export const ENGINE_VERSION = '0.1.0';
