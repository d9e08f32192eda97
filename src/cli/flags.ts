/**
 * Command-line flags: a thin strict layer over `node:util` `parseArgs` that turns every mistake
 * into a one-line {@link UsageError} (exit 2) — an unknown flag names the closest valid one — and
 * renders each command's `--help` from the same table.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { closest } from "./closest.ts";
import { UsageError } from "./errors.ts";

/** The program's name in usage lines and messages. */
export const PROGRAM = "newt-proxy";

/** One flag of a command. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `"listen-port"`. */
  name: string;
  /** A boolean switch or a flag taking a value. */
  type: "string" | "boolean";
  /** One-letter alias without the dash. */
  short?: string;
  /** May be given more than once (values collect in order). */
  multiple?: boolean;
  /** Placeholder for the value in help, e.g. `"PORT"`. */
  value?: string;
  /** One-line help text. */
  description: string;
}

/** A command: its flags, positional arguments and help text. */
export interface CommandSpec {
  /** Command name (`"run"`, `"add-peer"`, …). */
  name: string;
  /** One-line summary for the top-level help. */
  summary: string;
  /** Positional arguments as shown in the usage line, e.g. `"PUBLIC_KEY"`; none when absent. */
  positionals?: { names: string; min: number; max: number };
  /** Paragraphs printed after the usage line. */
  details?: string;
  /** Flags (`--help`/`-h` is added to every command). */
  flags: FlagSpec[];
}

/** Parsed flags: values by long name, positionals in order. */
export interface ParsedFlags {
  /** Flag values by long name (absent when not given). */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positional arguments. */
  positionals: string[];
  /** Whether `--help` or `-h` was given. */
  help: boolean;
}

const HELP_FLAG: FlagSpec = {
  name: "help",
  type: "boolean",
  short: "h",
  description: "show this help",
};

function allFlags(spec: CommandSpec): FlagSpec[] {
  return [...spec.flags, HELP_FLAG];
}

function usageError(spec: CommandSpec, message: string): UsageError {
  return new UsageError(message, spec.name);
}

/** Checks names, repeats and missing values ahead of `parseArgs`, so every message is ours. */
function prescan(spec: CommandSpec, args: readonly string[]): void {
  const flags = allFlags(spec);
  const longs = new Map(flags.map((f) => [f.name, f]));
  const shorts = new Map(flags.filter((f) => f.short).map((f) => [f.short as string, f]));
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") return;
    let flag: FlagSpec | undefined;
    let inlineValue = false;
    if (arg.startsWith("--")) {
      const name = arg.slice(2).split("=")[0] as string;
      flag = longs.get(name);
      if (flag === undefined) {
        const guess = closest(name, flags.map((f) => f.name));
        throw usageError(
          spec,
          `unknown flag '--${name}'${guess ? `; did you mean '--${guess}'?` : ""}`,
        );
      }
      inlineValue = arg.includes("=");
    } else if (arg.startsWith("-") && arg.length > 1) {
      flag = shorts.get(arg.charAt(1));
      if (flag === undefined || (flag.type === "boolean" && arg.length > 2)) {
        const guess = closest(arg.slice(1), flags.map((f) => f.name));
        throw usageError(
          spec,
          `unknown flag '${arg}'${guess ? `; did you mean '--${guess}'?` : ""}`,
        );
      }
      inlineValue = arg.length > 2;
    } else {
      continue;
    }
    if (flag.type === "boolean" && inlineValue) {
      throw usageError(spec, `flag '--${flag.name}' takes no value`);
    }
    if (seen.has(flag.name) && !flag.multiple && flag.name !== "help") {
      throw usageError(spec, `flag '--${flag.name}' given more than once`);
    }
    seen.add(flag.name);
    if (flag.type === "string" && !inlineValue) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw usageError(
          spec,
          `flag '--${flag.name}' needs a value (--${flag.name} ${flag.value ?? "VALUE"})`,
        );
      }
      i++;
    }
  }
}

/** Parses `args` for `spec`; throws {@link UsageError} on any mistake. `--help` skips value checks. */
export function parseFlags(spec: CommandSpec, args: readonly string[]): ParsedFlags {
  prescan(spec, args);
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const f of allFlags(spec)) {
    options[f.name] = {
      type: f.type,
      ...(f.short ? { short: f.short } : {}),
      ...(f.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (e) {
    // Reached only for cases the prescan does not model; keep the message to one line.
    const text = e instanceof Error ? e.message.split("\n")[0] as string : String(e);
    throw usageError(spec, text.replace(/\.$/, ""));
  }
  const values = parsed.values as ParsedFlags["values"];
  const help = values["help"] === true;
  const positionals = parsed.positionals;
  const pos = spec.positionals ?? { names: "", min: 0, max: 0 };
  if (!help) {
    if (positionals.length > pos.max) {
      throw usageError(spec, `unexpected argument '${positionals[pos.max]}'`);
    }
    if (positionals.length < pos.min) throw usageError(spec, `missing argument ${pos.names}`);
  }
  return { values, positionals, help };
}

/** A string flag's value, or undefined. */
export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const v = flags.values[name];
  return typeof v === "string" ? v : undefined;
}

/** A boolean flag's value (false when absent). */
export function booleanFlag(flags: ParsedFlags, name: string): boolean {
  return flags.values[name] === true;
}

/** A repeatable string flag's values, each split on commas (`--address a,b --address c`). */
export function listFlag(flags: ParsedFlags, name: string): string[] {
  const v = flags.values[name];
  const list = Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
  return list.flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== "");
}

/** Renders `--help` for one command. */
export function formatHelp(spec: CommandSpec): string {
  const pos = spec.positionals ? ` ${spec.positionals.names}` : "";
  const lines = [`Usage: ${PROGRAM} ${spec.name} [flags]${pos}`, "", spec.summary];
  if (spec.details) lines.push("", spec.details.trimEnd());
  lines.push("", "Flags:");
  const rows = allFlags(spec).map((f) => {
    const short = f.short ? `-${f.short}, ` : "    ";
    const value = f.type === "string" ? ` ${f.value ?? "VALUE"}` : "";
    return [`  ${short}--${f.name}${value}`, f.description] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  for (const [left, right] of rows) lines.push(left.padEnd(width) + right);
  return lines.join("\n") + "\n";
}
