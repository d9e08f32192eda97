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
 *
 * @module
 */

/** The flags, as `--v8-flags=` takes them (comma-joined). */
export const PROXY_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=4",
  "--maglev-as-top-tier",
];

/** `--v8-flags=…` with the proxy's flags and `extra` ones first. */
export function v8FlagsArg(...extra: string[]): string {
  return `--v8-flags=${[...extra, ...PROXY_V8_FLAGS].join(",")}`;
}
