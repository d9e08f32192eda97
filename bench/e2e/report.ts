/**
 * The results table: one row per measure, one column per scenario, and the ours/A ratio; as
 * plain text for the terminal and as Markdown for bench/RESULTS.md.
 *
 * @module
 */
import type { ScenarioKind } from "./topology.ts";

/** One measure's medians per scenario. */
export interface Row {
  /** What was measured, with its unit. */
  name: string;
  /** Median per scenario (absent: not measured; NaN: every run failed). */
  values: Partial<Record<ScenarioKind, number>>;
  /** Whether a larger value is better (for the reader; the ratio is always ours/A). */
  higherIsBetter: boolean;
  /** Digits after the point. */
  digits: number;
  /**
   * Lowest and highest ours/A of single runs (run i of ours against run i of A, which ran next to
   * it): how far the host's drift moves the ratio. Absent with fewer than two pairs.
   */
  perRun?: [number, number];
}

/**
 * The lowest and highest `ours[i] / a[i]` over the runs both measured (finite, positive);
 * undefined with fewer than two such pairs.
 */
export function perRunRatios(
  a: readonly number[] | undefined,
  ours: readonly number[] | undefined,
): [number, number] | undefined {
  if (!a || !ours) return undefined;
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, ours.length); i++) {
    if (a[i]! > 0 && ours[i]! > 0 && Number.isFinite(a[i]!) && Number.isFinite(ours[i]!)) {
      ratios.push(ours[i]! / a[i]!);
    }
  }
  if (ratios.length < 2) return undefined;
  return [Math.min(...ratios), Math.max(...ratios)];
}

/** Facts about the machine and tools, printed above the table. */
export interface MachineInfo {
  /** ISO date of the run. */
  date: string;
  /** Logical CPUs. */
  nproc: number;
  /** CPU model name. */
  cpu: string;
  /** Kernel release. */
  kernel: string;
  /** Deno version. */
  deno: string;
  /** Other tool versions and run settings. */
  notes: string[];
}

/** Median of the finite values (NaN when there are none). */
export function median(xs: readonly number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

const COLUMNS: Array<{ kind: ScenarioKind; title: string }> = [
  { kind: "plain", title: "(0) veth" },
  { kind: "wg-go", title: "(A) wireguard-go" },
  { kind: "ours", title: "ours" },
];

function cell(v: number | undefined, digits: number): string {
  if (v === undefined) return "";
  return Number.isFinite(v) ? v.toFixed(digits) : "—";
}

function ratio(r: Row): string {
  const a = r.values["wg-go"], o = r.values.ours;
  if (a === undefined || o === undefined || !(a > 0) || !(o > 0)) {
    return "";
  }
  return `${(o / a).toFixed(2)}×`;
}

function range(r: Row): string {
  return r.perRun ? `${r.perRun[0].toFixed(2)}–${r.perRun[1].toFixed(2)}×` : "";
}

function cells(rows: readonly Row[]): string[][] {
  return rows.map((r) => [
    r.name + (r.higherIsBetter ? " ↑" : " ↓"),
    ...COLUMNS.map((c) => cell(r.values[c.kind], r.digits)),
    ratio(r),
    range(r),
  ]);
}

const HEADER = ["measure", ...COLUMNS.map((c) => c.title), "ours/A", "run by run"];

/** The table as aligned plain text. */
export function formatText(rows: readonly Row[]): string {
  const all = [HEADER, ...cells(rows)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  ).join("\n");
}

/** The table as Markdown. */
export function formatMarkdown(rows: readonly Row[]): string {
  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  return [
    line(HEADER),
    line(HEADER.map((_, i) => (i === 0 ? "---" : "---:"))),
    ...cells(rows).map(line),
  ].join("\n");
}

/** The whole bench/RESULTS.md text. */
export function resultsMarkdown(machine: MachineInfo, rows: readonly Row[]): string {
  return [
    "# End-to-end benchmark results",
    "",
    "Written by `bench/e2e/main.ts` (`deno task bench`, as root). Medians of the runs, which",
    "alternate between the scenarios (the highest-sample row is a maximum); ↑ higher is better,",
    '↓ lower is better; ours/A is the ratio of the two, and "run by run" the lowest and highest',
    "ratio of single runs of A and ours that ran next to each other. Empty cells were not measured;",
    "— means every run failed.",
    "",
    `- Date: ${machine.date}`,
    `- Machine: ${machine.nproc} CPUs, ${machine.cpu}, Linux ${machine.kernel}`,
    `- Deno ${machine.deno}`,
    ...machine.notes.map((n) => `- ${n}`),
    "",
    formatMarkdown(rows),
    "",
  ].join("\n");
}
