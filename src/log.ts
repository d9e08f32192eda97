/**
 * Leveled, named logger whose API mirrors `jsr:@std/log` (unreachable from this build machine), so
 * that a later swap is an import change: `LogLevels`, `Logger`, `getLogger`, `setup`,
 * `BaseHandler`, `ConsoleHandler`, plus a `MemoryHandler` for tests and text/JSON formatters.
 *
 * A trailing plain object among a call's arguments is taken as structured fields:
 * `log.info("flow closed", { peer, bytes })`. Disabled levels return before any record or
 * string is built, so a debug call on the hot path costs one comparison.
 *
 * @example
 * ```ts
 * import { getLogger, MemoryHandler, setup } from "./log.ts";
 * const mem = new MemoryHandler("DEBUG");
 * setup({ handlers: { mem }, loggers: { wg: { level: "DEBUG", handlers: ["mem"] } } });
 * getLogger("wg").info("handshake", { peer: "abc" });
 * if (mem.records[0]?.fields["peer"] !== "abc") throw new Error("fields lost");
 * ```
 * @module
 */

/** Numeric log levels, identical to `@std/log`'s. */
export const LogLevels = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  WARN: 30,
  ERROR: 40,
  CRITICAL: 50,
} as const;

/** Name of a log level, e.g. `"INFO"`. */
export type LevelName = keyof typeof LogLevels;
/** Numeric value of a log level. */
export type LogLevel = (typeof LogLevels)[LevelName];

const LEVEL_NAMES: ReadonlyMap<number, LevelName> = new Map(
  (Object.entries(LogLevels) as [LevelName, LogLevel][]).map(([k, v]) => [v, k]),
);

/** Returns the numeric level for a level name. */
export function getLevelByName(name: LevelName): LogLevel {
  return LogLevels[name];
}

/** Returns the level name for a numeric level; throws for a number that is not a level. */
export function getLevelName(level: number): LevelName {
  const name = LEVEL_NAMES.get(level);
  if (name === undefined) throw new RangeError(`unknown log level ${level}`);
  return name;
}

/** Structured key/value fields attached to one record. */
export type LogFields = Record<string, unknown>;

/** Options for a {@link LogRecord}. */
export interface LogRecordOptions {
  /** Message text. */
  msg: string;
  /** Extra positional arguments (the structured-fields object is not among them). */
  args: unknown[];
  /** Structured fields (from a trailing plain-object argument). */
  fields: LogFields;
  /** Numeric level. */
  level: number;
  /** Name of the logger that made the record. */
  loggerName: string;
}

/** One log event, as handed to handlers and formatters (shape of `@std/log`'s, plus `fields`). */
export class LogRecord {
  /** Message text. */
  readonly msg: string;
  /** Extra positional arguments. */
  readonly args: unknown[];
  /** Structured fields. */
  readonly fields: LogFields;
  /** When the record was made. */
  readonly datetime: Date;
  /** Numeric level. */
  readonly level: number;
  /** Level name, e.g. `"WARN"`. */
  readonly levelName: string;
  /** Name of the logger that made the record. */
  readonly loggerName: string;

  /** Builds a record stamped with the current time. */
  constructor(options: LogRecordOptions) {
    this.msg = options.msg;
    this.args = options.args;
    this.fields = options.fields;
    this.level = options.level;
    this.levelName = LEVEL_NAMES.get(options.level) ?? String(options.level);
    this.loggerName = options.loggerName;
    this.datetime = new Date();
  }
}

/** Turns a record into one line of output (without the trailing newline). */
export type FormatterFunction = (record: LogRecord) => string;

function isPlainObject(value: unknown): value is LogFields {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Values JSON cannot carry natively (bigint, Error, Uint8Array) become strings or objects. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}

function textValue(value: unknown): string {
  if (typeof value === "string") {
    return /[\s="]/.test(value) || value === "" ? JSON.stringify(value) : value;
  }
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  if (value === undefined) return "undefined";
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  try {
    return JSON.stringify(value, jsonReplacer) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Built-in formatters: `text` (human, logfmt-style fields) and `json` (one object per line). */
export const formatters: {
  /** `2025-01-01T00:00:00.000Z INFO  wg handshake done peer=abc` */
  readonly text: FormatterFunction;
  /** `{"ts":"…","level":"INFO","logger":"wg","msg":"handshake done","peer":"abc"}` */
  readonly json: FormatterFunction;
} = {
  text(record: LogRecord): string {
    let line = `${record.datetime.toISOString()} ${
      record.levelName.padEnd(5)
    } ${record.loggerName} ${record.msg}`;
    for (const arg of record.args) line += ` ${textValue(arg)}`;
    for (const [k, v] of Object.entries(record.fields)) line += ` ${k}=${textValue(v)}`;
    return line;
  },
  json(record: LogRecord): string {
    const out: LogFields = {
      ts: record.datetime.toISOString(),
      level: record.levelName,
      logger: record.loggerName,
      msg: record.msg,
    };
    if (record.args.length > 0) out["args"] = record.args;
    for (const [k, v] of Object.entries(record.fields)) {
      // The four envelope keys win; a colliding field keeps its value under a prefixed name.
      out[k in out ? `field.${k}` : k] = v;
    }
    try {
      return JSON.stringify(out, jsonReplacer);
    } catch {
      const { ts, level, logger, msg } = out;
      return JSON.stringify({ ts, level, logger, msg, fields_error: "unserializable" });
    }
  },
};

/** Options common to all handlers. */
export interface BaseHandlerOptions {
  /** Formatter for this handler; defaults to {@link formatters}.text. */
  formatter?: FormatterFunction;
}

/** A destination for records. Subclass and implement {@link BaseHandler.log}. */
export abstract class BaseHandler {
  /** Minimum numeric level this handler emits. */
  level: number;
  /** Minimum level name. */
  levelName: LevelName;
  /** Turns a record into a line. */
  formatter: FormatterFunction;

  /** Creates a handler emitting records at `levelName` and above. */
  constructor(levelName: LevelName, options: BaseHandlerOptions = {}) {
    this.level = getLevelByName(levelName);
    this.levelName = levelName;
    this.formatter = options.formatter ?? formatters.text;
  }

  /** Formats and emits a record if its level is enabled here. */
  handle(record: LogRecord): void {
    if (record.level < this.level) return;
    this.log(this.format(record));
  }

  /** Formats one record. */
  format(record: LogRecord): string {
    return this.formatter(record);
  }

  /** Emits one formatted line. */
  abstract log(msg: string): void;

  /** Called when the handler is installed by {@link setup}. */
  setup(): void {}

  /** Called when the handler is replaced by a later {@link setup}. */
  destroy(): void {}
}

/** Options for {@link ConsoleHandler}. */
export interface ConsoleHandlerOptions extends BaseHandlerOptions {
  /** Accepted for `@std/log` compatibility; output is never colored. */
  useColors?: boolean;
}

const encoder = new TextEncoder();

/** Writes each formatted record as one line to stderr (stdout stays free for program output). */
export class ConsoleHandler extends BaseHandler {
  /** Creates a stderr handler at `levelName`. */
  constructor(levelName: LevelName, options: ConsoleHandlerOptions = {}) {
    super(levelName, options);
  }

  /** Writes `msg` and a newline to stderr, synchronously so lines never interleave. */
  override log(msg: string): void {
    try {
      Deno.stderr.writeSync(encoder.encode(msg + "\n"));
    } catch {
      // A closed stderr must not turn logging into a crash.
    }
  }
}

/** Keeps records (and their formatted lines) in memory; for tests. */
export class MemoryHandler extends BaseHandler {
  /** Records handled, oldest first. */
  readonly records: LogRecord[] = [];
  /** Formatted lines, oldest first. */
  readonly lines: string[] = [];

  /** Stores the record and its formatted line. */
  override handle(record: LogRecord): void {
    if (record.level < this.level) return;
    this.records.push(record);
    this.log(this.format(record));
  }

  /** Stores one formatted line. */
  override log(msg: string): void {
    this.lines.push(msg);
  }

  /** Forgets everything collected. */
  clear(): void {
    this.records.length = 0;
    this.lines.length = 0;
  }
}

/** Options for a {@link Logger}. */
export interface LoggerOptions {
  /** Handlers receiving this logger's records. */
  handlers?: BaseHandler[];
}

/** A message, or a function computing it only when the level is enabled. */
export type LogMessage = string | (() => string);

/** A named logger. Methods return the message like `@std/log`'s. */
export class Logger {
  /** Minimum numeric level. */
  level: number;
  /** Handlers receiving records. */
  handlers: BaseHandler[];
  readonly #name: string;

  /** Creates a logger named `loggerName` at `levelName`. */
  constructor(loggerName: string, levelName: LevelName, options: LoggerOptions = {}) {
    this.#name = loggerName;
    this.level = getLevelByName(levelName);
    this.handlers = options.handlers ?? [];
  }

  /** The logger's name. */
  get loggerName(): string {
    return this.#name;
  }

  /** The level name. */
  get levelName(): LevelName {
    return getLevelName(this.level);
  }
  set levelName(name: LevelName) {
    this.level = getLevelByName(name);
  }

  /** Whether a record at `level` would be emitted by this logger. */
  isEnabled(level: number): boolean {
    return level >= this.level && this.handlers.length > 0;
  }

  #log(level: number, msg: LogMessage, args: unknown[]): string | undefined {
    if (level < this.level) return typeof msg === "string" ? msg : undefined;
    const text = typeof msg === "string" ? msg : msg();
    let fields: LogFields = {};
    const last = args[args.length - 1];
    if (args.length > 0 && isPlainObject(last)) {
      fields = last;
      args = args.slice(0, -1);
    }
    const record = new LogRecord({ msg: text, args, fields, level, loggerName: this.#name });
    for (const handler of this.handlers) handler.handle(record);
    return text;
  }

  /** Logs at DEBUG. A trailing plain object is structured fields. */
  debug(msg: LogMessage, ...args: unknown[]): string | undefined {
    return this.#log(LogLevels.DEBUG, msg, args);
  }
  /** Logs at INFO. A trailing plain object is structured fields. */
  info(msg: LogMessage, ...args: unknown[]): string | undefined {
    return this.#log(LogLevels.INFO, msg, args);
  }
  /** Logs at WARN. A trailing plain object is structured fields. */
  warn(msg: LogMessage, ...args: unknown[]): string | undefined {
    return this.#log(LogLevels.WARN, msg, args);
  }
  /** Logs at ERROR. A trailing plain object is structured fields. */
  error(msg: LogMessage, ...args: unknown[]): string | undefined {
    return this.#log(LogLevels.ERROR, msg, args);
  }
  /** Logs at CRITICAL. A trailing plain object is structured fields. */
  critical(msg: LogMessage, ...args: unknown[]): string | undefined {
    return this.#log(LogLevels.CRITICAL, msg, args);
  }
}

/** Per-logger configuration in {@link LogConfig}. */
export interface LoggerConfig {
  /** Minimum level; default `"INFO"`. */
  level?: LevelName;
  /** Names of handlers (keys of {@link LogConfig.handlers}). */
  handlers?: string[];
}

/** Configuration for {@link setup}, as in `@std/log`. */
export interface LogConfig {
  /** Named handler instances. */
  handlers?: Record<string, BaseHandler>;
  /** Named logger configs; `"default"` configures the unnamed logger and unknown names. */
  loggers?: Record<string, LoggerConfig>;
}

const DEFAULT_CONFIG: LogConfig = {
  handlers: { default: new ConsoleHandler("INFO") },
  loggers: { default: { level: "INFO", handlers: ["default"] } },
};

const state: {
  config: LogConfig;
  handlers: Map<string, BaseHandler>;
  loggers: Map<string, Logger>;
} = {
  config: DEFAULT_CONFIG,
  handlers: new Map(Object.entries(DEFAULT_CONFIG.handlers ?? {})),
  loggers: new Map(),
};

function resolveHandlers(names: string[] | undefined): BaseHandler[] {
  const out: BaseHandler[] = [];
  for (const name of names ?? []) {
    const handler = state.handlers.get(name);
    if (handler === undefined) throw new Error(`log setup: unknown handler "${name}"`);
    out.push(handler);
  }
  return out;
}

function makeLogger(name: string): Logger {
  const loggers = state.config.loggers ?? {};
  const cfg = loggers[name] ?? loggers["default"] ?? {};
  return new Logger(name, cfg.level ?? "INFO", { handlers: resolveHandlers(cfg.handlers) });
}

/**
 * Installs handlers and loggers, replacing the previous configuration (old handlers are destroyed).
 * Loggers already handed out by {@link getLogger} are reconfigured in place.
 */
export function setup(config: LogConfig): void {
  const handlerNames = new Set([
    ...Object.keys(DEFAULT_CONFIG.handlers ?? {}),
    ...Object.keys(config.handlers ?? {}),
  ]);
  for (const [loggerName, cfg] of Object.entries(config.loggers ?? {})) {
    for (const name of cfg.handlers ?? []) {
      if (!handlerNames.has(name)) {
        throw new Error(`log setup: logger "${loggerName}" names unknown handler "${name}"`);
      }
    }
  }
  for (const handler of state.handlers.values()) handler.destroy();
  state.config = {
    handlers: { ...DEFAULT_CONFIG.handlers, ...config.handlers },
    loggers: { ...DEFAULT_CONFIG.loggers, ...config.loggers },
  };
  state.handlers = new Map(Object.entries(state.config.handlers ?? {}));
  for (const handler of state.handlers.values()) handler.setup();
  for (const [name, logger] of state.loggers) {
    const fresh = makeLogger(name);
    logger.level = fresh.level;
    logger.handlers = fresh.handlers;
  }
}

/** Returns the logger called `name` (the default logger when omitted), creating it on first use. */
export function getLogger(name = "default"): Logger {
  let logger = state.loggers.get(name);
  if (logger === undefined) {
    logger = makeLogger(name);
    state.loggers.set(name, logger);
  }
  return logger;
}

/** Logs at DEBUG on the default logger. */
export function debug(msg: LogMessage, ...args: unknown[]): string | undefined {
  return getLogger().debug(msg, ...args);
}
/** Logs at INFO on the default logger. */
export function info(msg: LogMessage, ...args: unknown[]): string | undefined {
  return getLogger().info(msg, ...args);
}
/** Logs at WARN on the default logger. */
export function warn(msg: LogMessage, ...args: unknown[]): string | undefined {
  return getLogger().warn(msg, ...args);
}
/** Logs at ERROR on the default logger. */
export function error(msg: LogMessage, ...args: unknown[]): string | undefined {
  return getLogger().error(msg, ...args);
}
/** Logs at CRITICAL on the default logger. */
export function critical(msg: LogMessage, ...args: unknown[]): string | undefined {
  return getLogger().critical(msg, ...args);
}
