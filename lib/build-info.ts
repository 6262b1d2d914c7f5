import { binding } from './native';

/**
 * Which build produced the loaded native addon: 'node-gyp' (binding.gyp, also used by
 * prebuildify) or 'cmake-js' (CMakeLists.txt). Useful to check which binary a process runs.
 */
export const nativeBuildSystem: string = binding.buildSystem;
