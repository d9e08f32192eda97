/**
 * The V8 flags a long-running proxy runs with — `deno task start` and `deno task compile`
 * (deno.json) and so every benchmark of ours: a test keeps the three in step.
 *
 * - `--max-semi-space-size=4`: V8's young generation otherwise grows to ~40 MB after bursts of
 *   new flows and keeps it (RSS crept +17% after a second round of 1,000 flows, +4% with it).
 * - `--maglev-as-top-tier`: no TurboFan tier. Its compile jobs (~165 ms of the ~290 ms V8's
 *   helper threads compiled during a connection run after bulk transfers) take the core the
 *   peer needs on a small host; without them the connection run's p99 read 7–27% lower in 9 of 10
 *   interleaved pairs (2026-11-28), throughput, UDP and the impaired path unchanged (the hot
 *   loops are WebAssembly, which this flag does not touch).
 * - `--no-allocation-site-pretenuring`: while many flows are open for long, V8 sees the objects
 *   each flow allocates survive and marks those allocation sites "tenured": from then on it
 *   allocates them in the old generation directly, for good. The short connections that follow
 *   then leave their objects there (and what those point to is kept through young collections):
 *   after 1,000 flows held open and closed, 2.7 KB promoted per connection instead of 0.1, young
 *   pauses 0.16 → 0.4 ms, full collections every ~0.9 s instead of ~5 s in the connection run,
 *   p99 +30% and ~10% fewer connections a second (bench/proxy_conn_bench.ts measures both).
 *   V8 reads the flag at start only: `node:v8`'s setFlagsFromString later has no effect.
 *
 * @module
 */

/** The flags, as `--v8-flags=` takes them (comma-joined). */
export const PROXY_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=4",
  "--maglev-as-top-tier",
  "--no-allocation-site-pretenuring",
];

/** `--v8-flags=…` with the proxy's flags and `extra` ones first. */
export function v8FlagsArg(...extra: string[]): string {
  return `--v8-flags=${[...extra, ...PROXY_V8_FLAGS].join(",")}`;
}
