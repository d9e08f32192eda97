/**
 * Durations in config values and flags: `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds
 * (`30`, `1.5`).
 *
 * @module
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Thrown for a duration that does not parse or is out of range. */
export class DurationError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "DurationError";
  }
}

/** Parses a duration to milliseconds, requiring `minMs <= result <= maxMs`. */
export function parseDuration(text: string, minMs = 0, maxMs = 86_400_000): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (m === null) {
    throw new DurationError(`'${text}' is not a duration (e.g. 500ms, 5s, 2m, 1h)`);
  }
  const unit = (m[2] ?? "s").toLowerCase();
  const ms = Math.round(Number(m[1]) * (UNIT_MS[unit] as number));
  if (ms < minMs || ms > maxMs) {
    throw new DurationError(
      `'${text}' is out of range (${formatDuration(minMs)} to ${formatDuration(maxMs)})`,
    );
  }
  return ms;
}

/** Formats milliseconds the way {@link parseDuration} reads them back (`1500ms`, `5s`, `2m`). */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
