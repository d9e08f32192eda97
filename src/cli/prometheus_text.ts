/**
 * Reads Prometheus text exposition back into samples: what `show` uses to display a running
 * instance's live figures, and what the tests use to check the endpoint.
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  /** Metric name. */
  name: string;
  /** Label values by name. */
  labels: Record<string, string>;
  /** The value. */
  value: number;
}

/** A parsed scrape: samples, and each family's TYPE. */
export interface Scrape {
  /** Samples in order. */
  samples: Sample[];
  /** `# TYPE` per family name. */
  types: Map<string, string>;
}

/** Thrown for text that is not valid exposition format. */
export class ExpositionSyntaxError extends Error {
  /** Creates the error for 1-based `line`. */
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = "ExpositionSyntaxError";
  }
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?[0-9]+)?$/;
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  return /^[-+]?[0-9.eE+-]+$/.test(text) ? Number(text) : NaN;
}

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** Parses exposition text; throws {@link ExpositionSyntaxError} on a malformed line. */
export function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s+TYPE\s+(\S+)\s+(counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m) types.set(m[1] as string, m[2] as string);
      continue;
    }
    const m = SAMPLE_RE.exec(line);
    if (m === null) throw new ExpositionSyntaxError(i + 1, `not a sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    LABEL_RE.lastIndex = 0;
    while (LABEL_RE.lastIndex < body.length) {
      const start = LABEL_RE.lastIndex;
      const l = LABEL_RE.exec(body);
      if (l === null || LABEL_RE.lastIndex === start) {
        throw new ExpositionSyntaxError(i + 1, `bad labels: {${body}}`);
      }
      labels[l[1] as string] = unescape(l[2] as string);
    }
    const value = parseValue(m[4] as string);
    if (Number.isNaN(value) && m[4] !== "NaN") {
      throw new ExpositionSyntaxError(i + 1, `bad value '${m[4]}'`);
    }
    samples.push({ name: m[1] as string, labels, value });
  }
  return { samples, types };
}

/** The value of the first sample named `name` whose labels include `labels`. */
export function sampleValue(
  scrape: Scrape,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return scrape.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}
