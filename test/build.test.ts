import { describe, expect, it } from 'vitest';
import { nativeBuildSystem } from '../lib/index';

describe('native build', () => {
  it('is the build this run was asked to test', () => {
    // .ci/run sets EXPECT_BUILD_SYSTEM so that the node-gyp and cmake-js runs really test each.
    const expected = process.env.EXPECT_BUILD_SYSTEM;
    expect(['node-gyp', 'cmake-js']).toContain(nativeBuildSystem);
    if (expected !== undefined) expect(nativeBuildSystem).toBe(expected);
  });
});
