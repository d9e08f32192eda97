/**
 * The CLI as a real process: permissions as users grant them, signals, and every byte it logs.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { parseExposition, sampleValue } from "../../src/cli/prometheus_text.ts";
import { cli, printedConfig, tempState } from "./_run_helpers.ts";

const ROOT = fromFileUrl(new URL("../../", import.meta.url));
const ENTRY = fromFileUrl(new URL("./_cli_entry.ts", import.meta.url));
const posix = Deno.build.os !== "windows";

/** The named variables that are set, plus NO_COLOR; nothing else reaches the child. */
function passEnv(names: string[]): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const n of names) {
    const v = Deno.env.get(n);
    if (v !== undefined) env[n] = v;
  }
  return env;
}

/** A running CLI process whose output is collected as it arrives. */
class CliProcess {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<void>;

  constructor(permissions: string[], args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...permissions, ENTRY, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      env: passEnv(["PATH", "HOME", "DENO_DIR"]),
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this[key] += chunk;
    };
    this.#done = Promise.all([
      collect(this.child.stdout, "stdout"),
      collect(this.child.stderr, "stderr"),
    ])
      .then(() => {});
  }

  /** Waits (bounded) until stderr matches `re`; returns the match. */
  async waitFor(re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const m = this.stderr.match(re);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${re}; stderr so far:\n${this.stderr}`);
  }

  /** Waits for the exit; returns the code. */
  async exit(): Promise<number> {
    const status = await this.child.status;
    await this.#done;
    return status.code;
  }
}

Deno.test("with only --allow-net: keys in memory, config printed, hint line, SIGTERM exits 0", {
  ignore: !posix,
}, async () => {
  const p = new CliProcess(["--allow-net"], ["--listen-port", "0"]);
  await p.waitFor(/ ready /);
  p.child.kill("SIGTERM");
  assert.equal(await p.exit(), 0, p.stderr);
  const client = printedConfig(p.stdout).config;
  assert.equal(client.peers.length, 1);
  assert.match(p.stderr, /state is in memory only.*--allow-read.*--allow-write/);
  assert.match(p.stderr, /stopping signal=SIGTERM/);
  assert.match(p.stderr, / stopped\n/);
  assert.match(p.stdout, /EDIT-ME\.invalid/, "no --allow-sys: a placeholder endpoint");
});

Deno.test(
  "persistent state as a process: SIGHUP reloads peers, metrics follow, SIGINT exits 0, no key in any log line",
  { ignore: !posix },
  async () => {
    const { root, state } = await tempState();
    try {
      const perms = [`--allow-net`, `--allow-read=${root}`, `--allow-write=${root}`];
      const p = new CliProcess(perms, [
        "--state-dir",
        state,
        "--listen-port",
        "0",
        "--metrics",
        "127.0.0.1:0",
        "--log-level",
        "debug",
      ]);
      const port = (await p.waitFor(/metrics=http:\/\/127\.0\.0\.1:(\d+)\/metrics/))[1];
      const scrape = async () =>
        parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      assert.equal(sampleValue(await scrape(), "newt_peers"), 1);

      const added = await cli(["add-peer", "--state-dir", state, "--no-qr"]);
      assert.equal(added.code, 0, added.io.stderr);
      p.child.kill("SIGHUP");
      await p.waitFor(/peers reloaded .*added=1 removed=0/);
      assert.equal(sampleValue(await scrape(), "newt_peers"), 2);

      // A reload that fails (bad file) keeps the running peers.
      const path = `${state}/server.conf`;
      const good = await Deno.readTextFile(path);
      await Deno.writeTextFile(path, good + "\n[Peer]\nPublicKey = nope\n");
      p.child.kill("SIGHUP");
      await p.waitFor(/reload failed.*line \d+: invalid PublicKey/);
      assert.equal(sampleValue(await scrape(), "newt_peers"), 2);
      await Deno.writeTextFile(path, good);

      p.child.kill("SIGINT");
      assert.equal(await p.exit(), 0, p.stderr);

      const secrets = [
        ...[p.stdout, added.io.stdout, good].flatMap((t) =>
          [...t.matchAll(/^(?:PrivateKey|PresharedKey) = (\S+)/gm)].map((m) => m[1] as string)
        ),
      ];
      assert.ok(secrets.length >= 5, `found ${secrets.length} secrets`);
      for (const s of secrets) assert.ok(!p.stderr.includes(s), "key material in the log");
      assert.ok(!p.stderr.includes("PrivateKey") && !p.stderr.includes("PresharedKey"));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

Deno.test("usage errors exit 2 with one line on stderr, nothing on stdout", async () => {
  const p = new CliProcess([], ["run", "--listen-prot", "1"]);
  assert.equal(await p.exit(), 2);
  assert.equal(p.stdout, "");
  assert.equal(p.stderr.trimEnd().split("\n").length, 1);
  assert.match(p.stderr, /did you mean '--listen-port'/);
});

Deno.test("--udp-ffi without --allow-ffi: one line naming the missing grant, exit 1", async () => {
  const p = new CliProcess(["--allow-net"], ["--listen-port", "0", "--udp-ffi"]);
  assert.equal(await p.exit(), 1, p.stderr);
  assert.match(p.stderr, /--udp-ffi \(UdpBackend = ffi\) needs --allow-ffi/);
  assert.doesNotMatch(p.stderr, /needs --allow-net/);
});
