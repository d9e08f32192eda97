/** Drives a JSON-lines subprocess (the system under test inside a namespace). */
export class JsonLinesProcess {
  #events: Record<string, unknown>[] = [];
  #waiters: Array<() => void> = [];
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly stderr: Promise<string>;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(readonly child: Deno.ChildProcess) {
    this.#writer = child.stdin.getWriter();
    this.stderr = new Response(child.stderr).text();
    this.status = child.status;
    this.#pump();
  }

  async #pump(): Promise<void> {
    let buf = "";
    for await (const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.#events.push(JSON.parse(line));
        } catch {
          this.#events.push({ event: "text", line });
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Sends one command object. */
  async send(cmd: Record<string, unknown>): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
  }

  /** Waits (bounded) for the next event named `name` not yet consumed. */
  async next(name: string, ms = 10_000): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.#events.findIndex((e) => e.event === name);
      if (i >= 0) return this.#events.splice(i, 1)[0]!;
      const left = end - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for '${name}'; stderr: ${await Promise.race([this.stderr, "…"])}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        timer = setTimeout(r, Math.min(left, 200));
      });
      clearTimeout(timer);
    }
  }

  /** Sends a command and waits for the named answer. */
  async ask(cmd: Record<string, unknown>, answer: string): Promise<Record<string, unknown>> {
    await this.send(cmd);
    return this.next(answer);
  }

  /** Asks the process to exit, killing it if it does not within 3 s. */
  async stop(): Promise<void> {
    await this.send({ cmd: "exit" }).catch(() => {});
    await this.#writer.close().catch(() => {});
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await this.status;
    clearTimeout(t);
    await this.stderr.catch(() => "");
  }
}

/** The subprocess side: each JSON object read from stdin, one per line. */
export async function* stdinCommands(): AsyncGenerator<Record<string, any>> {
  let buf = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      yield JSON.parse(line);
    }
  }
}

/** The subprocess side: writes one JSON event line to stdout. */
export function emit(event: Record<string, unknown>): void {
  console.log(JSON.stringify(event));
}
