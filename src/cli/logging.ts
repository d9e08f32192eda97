/**
 * Wires `--log-level` / `--log-format` into src/log.ts: every logger writes to stderr in one
 * format. (Flow lines are switched by the proxy's own `flowLog` option.) Nothing here ever logs
 * key material: callers pass public keys at most.
 *
 * @module
 */
import { type BaseHandler, ConsoleHandler, formatters, type LevelName, setup } from "../log.ts";
import type { LogFormat } from "./proxy_section.ts";

/** Options for {@link setupLogging}. */
export interface LoggingOptions {
  /** Minimum level. */
  level: LevelName;
  /** Line format. */
  format: LogFormat;
  /** Destination; default a stderr {@link ConsoleHandler} (tests pass a MemoryHandler). */
  handler?: BaseHandler;
}

/** Installs the CLI's log configuration. */
export function setupLogging(options: LoggingOptions): void {
  const handler = options.handler ??
    new ConsoleHandler(options.level, { formatter: formatters[options.format] });
  handler.formatter = formatters[options.format];
  setup({
    handlers: { cli: handler },
    loggers: {
      default: { level: options.level, handlers: ["cli"] },
    },
  });
}
