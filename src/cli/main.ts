/**
 * The `newt-proxy` command line: `main(args)` dispatches to a subcommand and returns the exit
 * code (0 ok, 1 failure, 2 usage error); it never exits the process itself. mod.ts runs it when
 * executed directly: `if (import.meta.main) Deno.exit(await main(Deno.args))`.
 *
 * @example
 * ```ts
 * import { runCli } from "./main.ts";
 * import { memoryIo } from "./io.ts";
 * const io = memoryIo();
 * const code = await runCli(["genkey"], { io });
 * if (code !== 0 || io.stdout.length !== 45) throw new Error("genkey failed");
 * ```
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { startServer } from "../server.ts";
import { closest } from "./closest.ts";
import type { CliContext } from "./context.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE, UsageError } from "./errors.ts";
import { type CommandSpec, formatHelp, type ParsedFlags, parseFlags, PROGRAM } from "./flags.ts";
import { processIo } from "./io.ts";
import {
  GENKEY_SPEC,
  genkeyCommand,
  GENPSK_SPEC,
  genpskCommand,
  PUBKEY_SPEC,
  pubkeyCommand,
} from "./key_commands.ts";
import {
  ADD_PEER_SPEC,
  addPeerCommand,
  REMOVE_PEER_SPEC,
  removePeerCommand,
} from "./peer_commands.ts";
import { RUN_SPEC, runCommand } from "./run_command.ts";
import { SHOW_SPEC, showCommand } from "./show_command.ts";

export type { CliContext, ReadyInfo } from "./context.ts";

/** The package version (from deno.json). */
export const VERSION: string = denoJson.version;

interface Command {
  spec: CommandSpec;
  run: (flags: ParsedFlags, ctx: CliContext) => number | Promise<number>;
}

const COMMANDS: readonly Command[] = [
  { spec: RUN_SPEC, run: runCommand },
  { spec: ADD_PEER_SPEC, run: addPeerCommand },
  { spec: REMOVE_PEER_SPEC, run: removePeerCommand },
  { spec: SHOW_SPEC, run: showCommand },
  { spec: GENKEY_SPEC, run: (_f, ctx) => genkeyCommand(ctx) },
  { spec: GENPSK_SPEC, run: (_f, ctx) => genpskCommand(ctx) },
  { spec: PUBKEY_SPEC, run: (_f, ctx) => pubkeyCommand(ctx) },
];

const HELP_SPEC: CommandSpec = {
  name: "help",
  summary: "Show help for a command.",
  positionals: { names: "[COMMAND]", min: 0, max: 1 },
  flags: [],
};

/** The top-level help text. */
export function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 4;
  return [
    `${PROGRAM} ${VERSION}: a userspace WireGuard endpoint that proxies every TCP/UDP flow to its`,
    "real target from this host.",
    "",
    `Usage: ${PROGRAM} [COMMAND] [flags]`,
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    `  ${"help".padEnd(width)}${HELP_SPEC.summary}`,
    "",
    `Without a command, '${PROGRAM}' runs the proxy. '${PROGRAM} COMMAND --help' lists a command's flags.`,
    "",
    "Permissions: --allow-net is enough to run (state in memory). --allow-read/--allow-write on the",
    "state dir and --allow-env=NEWT_STATE_DIR,XDG_STATE_HOME,HOME keep state across starts;",
    "--allow-sys=networkInterfaces lets it guess the Endpoint. It never prompts.",
    "",
  ].join("\n");
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.spec.name === name);
}

function defaultContext(partial: Partial<CliContext>): CliContext {
  return { io: processIo(), startServer, ...partial };
}

async function dispatch(args: string[], ctx: CliContext): Promise<number> {
  const first = args[0];
  if (first === "--help" || first === "-h") {
    ctx.io.out(topLevelHelp());
    return 0;
  }
  if (first === "--version" || first === "-V") {
    ctx.io.out(`${PROGRAM} ${VERSION}\n`);
    return 0;
  }
  if (first === "help") {
    const flags = parseFlags(HELP_SPEC, args.slice(1));
    const topic = flags.positionals[0];
    if (topic === undefined || flags.help) {
      ctx.io.out(topLevelHelp());
      return 0;
    }
    const command = findCommand(topic);
    if (command === undefined) throw unknownCommand(topic);
    ctx.io.out(formatHelp(command.spec));
    return 0;
  }
  let command = findCommand(first ?? "run");
  let rest = args.slice(1);
  if (command === undefined) {
    if (first !== undefined && !first.startsWith("-")) throw unknownCommand(first);
    command = findCommand("run") as Command;
    rest = args;
  }
  const flags = parseFlags(command.spec, rest);
  if (flags.help) {
    ctx.io.out(formatHelp(command.spec));
    return 0;
  }
  return await command.run(flags, ctx);
}

function unknownCommand(name: string): UsageError {
  const guess = closest(name, [...COMMANDS.map((c) => c.spec.name), "help"]);
  return new UsageError(`unknown command '${name}'${guess ? `; did you mean '${guess}'?` : ""}`);
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code (0 ok, 1 failure,
 * 2 usage error). Never exits the process: `Deno.exit(await main(Deno.args))`.
 */
export function main(args: string[]): Promise<number> {
  return runCli(args);
}

/**
 * {@linkcode main} with its environment replaced: streams, the server starter, a stop signal,
 * a readiness hook (tests, embedding).
 */
export async function runCli(args: string[], context: Partial<CliContext> = {}): Promise<number> {
  const ctx = defaultContext(context);
  try {
    return await dispatch(args, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      const see = e.command ? `${PROGRAM} ${e.command} --help` : `${PROGRAM} --help`;
      ctx.io.err(`${PROGRAM}: ${e.message} (see '${see}')\n`);
      return EXIT_USAGE;
    }
    if (e instanceof CliError) {
      ctx.io.err(`${PROGRAM}: ${e.message}\n`);
      return EXIT_FAILURE;
    }
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    ctx.io.err(`${PROGRAM}: unexpected error: ${message}\n`);
    return EXIT_FAILURE;
  }
}
