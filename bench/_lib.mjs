// Shared by the benchmarks (files starting with '_' are not benchmarks: bench/run-all.mjs skips
// them): the flags every benchmark takes and its JSON rows.
//   --json   print one JSON object { name, rows } on the last line of stdout (notes go to stderr)
//   --quick  fewer rounds and runs (a smoke test of the benchmark, not a measurement); also
//            BENCH_QUICK=1 in the environment
// A row: { measure, subject: 'ours' | 'C' | '<peer>', unit: 'µs' | 'ms' | 'MB/s' | ..., median,
// min, max, runs, ratio?, ratioTo? }: median, min and max of `runs` per-run figures, and the
// ratio to the subject `ratioTo` of the same measure, measured side by side in one run (without
// it, run-all.mjs divides medians: by `ratioTo`'s, else C's, else ours). `ratioTo: null` on any row
// of a measure: no ratios for it (a count, where a ratio means nothing).

export const json = process.argv.includes('--json');
export const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

/** `megabytes` of touched Buffers, to hold while measuring with a big resident heap. */
export function holdResident(megabytes) {
  const chunks = [];
  for (let i = 0; i < megabytes / 64; i++) chunks.push(Buffer.alloc(64 * 1024 * 1024, 1));
  return chunks;
}

/** { median, min, max, runs } of a list of per-run figures. */
export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

/** A row: `values` are the per-run figures; `ratios` (optional) the per-run ratios to `ratioTo`. */
export function row(measure, subject, unit, values, ratioTo, ratios) {
  const result = { measure, subject, unit, ...summary(values) };
  if (ratioTo !== undefined) {
    result.ratioTo = ratioTo;
    if (ratios !== undefined) result.ratio = summary(ratios).median;
  }
  return result;
}

/** Prints the JSON line when --json is given. */
export function emit(name, rows) {
  if (json) process.stdout.write(`${JSON.stringify({ name, rows })}\n`);
}

/** console.log, except in --json mode (whose stdout ends with the JSON line; notes go to stderr). */
export function say(...args) {
  if (json) console.error(...args);
  else console.log(...args);
}
