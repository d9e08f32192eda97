/**
 * A long-running helper process inside a network namespace (targets, relay, probes, the system
 * under test), with its output kept in bounded buffers and a stop that never hangs.
 *
 * @module
 */
import type { Netns } from "../../tests/interop/_netns.ts";

const MAX_LINES = 256;
const MAX_STDERR = 16 * 1024;

/** NEWT_BENCH_STDOUT=FILE: every process's stdout is also appended to FILE (e.g. --trace-gc). */
const STDOUT_COPY = Deno.env.get("NEWT_BENCH_STDOUT");

/** A process started with `ip netns exec`; its pid is the command's own (ip execs it). */
export class NsProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  #stderr = "";
  #wake: (() => void) | undefined;
  #exited = false;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.status = child.status.then((s) => {
      this.#exited = true;
      this.#wake?.();
      return s;
    });
    this.#pumpStdout();
    this.#pumpStderr();
  }

  /** Starts `cmd args` in `ns`; `env` adds environment variables. */
  static start(ns: Netns, cmd: string, args: string[], env?: Record<string, string>): NsProcess {
    return new NsProcess(
      new Deno.Command("ip", {
        args: ["netns", "exec", ns.name, cmd, ...args],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        ...(env ? { env } : {}),
      }).spawn(),
    );
  }

  /** The process id (the command itself: `ip netns exec` replaces itself with it). */
  get pid(): number {
    return this.#child.pid;
  }

  /** The last bytes the process wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  async #pumpStdout(): Promise<void> {
    let buf = "";
    try {
      for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        if (STDOUT_COPY) Deno.writeTextFileSync(STDOUT_COPY, chunk, { append: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.#lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (this.#lines.length > MAX_LINES) this.#lines.shift();
        }
        this.#wake?.();
      }
    } catch { /* killed */ }
  }

  async #pumpStderr(): Promise<void> {
    try {
      for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr = (this.#stderr + chunk).slice(-MAX_STDERR);
      }
    } catch { /* killed */ }
  }

  /** Waits (at most `ms`) for the next stdout line matching `match`, consuming lines before it. */
  async nextLine(ms: number, match: (line: string) => boolean = () => true): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      while (this.#lines.length > 0) {
        const line = this.#lines.shift()!;
        if (match(line)) return line;
      }
      const left = end - Date.now();
      if (left <= 0 || this.#exited) {
        throw new Error(
          `${this.#exited ? "process exited" : `no output within ${ms} ms`}; stderr: ${
            this.#stderr.slice(-2000)
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, Math.min(left, 100));
      });
      clearTimeout(timer);
    }
  }

  /**
   * Waits for the next JSON object with key `key` in a line. The object may share its line with
   * other output: V8's `--trace-gc` writes through C stdio, whose pipe buffer splits its lines
   * anywhere, so a reply can land in the middle of one.
   */
  async nextJson(ms: number, key: string): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await this.nextLine(ms, (l) => (found = jsonObjectIn(l, key)) !== undefined);
    return found!;
  }

  /** Writes one line to the process's stdin. */
  async writeLine(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text + "\n"));
  }

  /**
   * Closes stdin (our tools exit on that), then sends SIGTERM after `graceMs` and SIGKILL 2 s
   * later.
   */
  async stop(graceMs = 2000): Promise<void> {
    await this.#writer.close().catch(() => {});
    const signal = (s: Deno.Signal) => {
      if (this.#exited) return;
      try {
        this.#child.kill(s);
      } catch { /* gone */ }
    };
    const term = setTimeout(() => signal("SIGTERM"), graceMs);
    const kill = setTimeout(() => signal("SIGKILL"), graceMs + 2000);
    await this.status;
    clearTimeout(term);
    clearTimeout(kill);
  }
}

/** The first JSON object in `line` that starts `{"key"` and parses, if any (see nextJson). */
export function jsonObjectIn(line: string, key: string): Record<string, unknown> | undefined {
  const open = `{"${key}"`;
  for (let at = line.indexOf(open); at >= 0; at = line.indexOf(open, at + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = at; i < line.length; i++) {
      const c = line[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{") depth++;
      else if (c === "}" && --depth === 0) {
        try {
          return JSON.parse(line.slice(at, i + 1));
        } catch {
          break;
        }
      }
    }
  }
  return undefined;
}
