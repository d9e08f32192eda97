/** Helpers for running the CLI in-process in tests. */
import { type MemoryIo, memoryIo } from "../../src/cli/io.ts";
import { type ReadyInfo, runCli } from "../../src/cli/main.ts";
import { MemoryHandler } from "../../src/log.ts";
import { parseConfig, type WgConfig } from "../../src/wireguard/config.ts";

/** What one in-process invocation produced. */
export interface RunResult {
  code: number;
  io: MemoryIo;
  logs: string[];
}

/**
 * Runs `newt-proxy args` in-process; for `run`, `whileReady` runs once it serves and then the
 * command is stopped (as by SIGTERM). An error thrown in `whileReady` is rethrown.
 */
export async function cli(
  args: string[],
  whileReady?: (info: ReadyInfo) => Promise<void> | void,
  stdin = "",
): Promise<RunResult> {
  const io = memoryIo(stdin);
  const mem = new MemoryHandler("DEBUG");
  const ctrl = new AbortController();
  let failure: unknown;
  const code = await runCli(args, {
    io,
    logHandler: mem,
    signal: ctrl.signal,
    interfaces: [],
    onReady: (info) => {
      (async () => {
        try {
          await whileReady?.(info);
        } catch (e) {
          failure = e;
        } finally {
          ctrl.abort();
        }
      })();
    },
  });
  if (failure !== undefined) throw failure;
  return { code, io, logs: mem.lines };
}

/** The client config printed on stdout (heading and QR code removed), parsed. */
export function printedConfig(stdout: string): { text: string; config: WgConfig } {
  const start = stdout.indexOf("[Interface]");
  if (start < 0) throw new Error(`no client config in output:\n${stdout}`);
  const rest = stdout.slice(start);
  const end = rest.search(/\n\n(?![[#A-Za-z])/); // the blank line before the QR code
  const text = end < 0 ? rest : rest.slice(0, end + 1);
  return { text, config: parseConfig(text) };
}

/** Fresh temp dir; returns its path and a state dir path inside it (not yet created). */
export async function tempState(): Promise<{ root: string; state: string }> {
  const root = await Deno.makeTempDir({ prefix: "newt-cli-" });
  return { root, state: `${root}/state` };
}
