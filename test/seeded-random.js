'use strict';
/**
 * mulberry32, the seeded generator of the test drivers (test/fuzz-driver.js,
 * test/lifecycle-stress-driver.js): small, and the same sequence on every Node version.
 */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { seededRandom };
