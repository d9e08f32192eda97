import assert from "node:assert/strict";
import { memoryIo } from "../../src/cli/io.ts";
import { runCli } from "../../src/cli/main.ts";
import { type CommandSpec, listFlag, parseFlags } from "../../src/cli/flags.ts";
import { UsageError } from "../../src/cli/errors.ts";

const SPEC: CommandSpec = {
  name: "t",
  summary: "test",
  flags: [
    { name: "config", short: "c", type: "string", description: "file" },
    { name: "no-qr", type: "boolean", description: "no qr" },
    { name: "address", type: "string", multiple: true, description: "addresses" },
  ],
};

async function usage(args: string[]): Promise<{ code: number; err: string; out: string }> {
  const io = memoryIo();
  const code = await runCli(args, {
    io,
    startServer: () => Promise.reject(new Error("must not start")),
  });
  return { code, err: io.stderr, out: io.stdout };
}

Deno.test("parseFlags: values, short alias, repeatable list split on commas", () => {
  const p = parseFlags(SPEC, ["-c", "x.conf", "--no-qr", "--address", "a,b", "--address=c"]);
  assert.equal(p.values["config"], "x.conf");
  assert.equal(p.values["no-qr"], true);
  assert.deepEqual(listFlag(p, "address"), ["a", "b", "c"]);
});

Deno.test("parseFlags: each mistake is a one-line UsageError", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--confg", "x"], /unknown flag '--confg'; did you mean '--config'\?/],
    [["--config"], /flag '--config' needs a value/],
    [["--config", "a", "--config", "b"], /given more than once/],
    [["--no-qr=yes"], /takes no value/],
    [["-x"], /unknown flag '-x'/],
    [["stray"], /unexpected argument 'stray'/],
  ];
  for (const [args, re] of cases) {
    assert.throws(() => parseFlags(SPEC, args), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("main: unknown flag exits 2 naming the closest flag, on one line", async () => {
  const r = await usage(["run", "--lisen-port", "1"]);
  assert.equal(r.code, 2);
  assert.equal(r.err.trimEnd().split("\n").length, 1);
  assert.match(r.err, /unknown flag '--lisen-port'; did you mean '--listen-port'\?/);
  const r2 = await usage(["add-peer", "--public-kye", "x"]);
  assert.equal(r2.code, 2);
  assert.match(r2.err, /did you mean '--public-key'/);
});

Deno.test("main: flags without a command run `run`; bad command names the closest", async () => {
  const r = await usage(["--log-levl", "debug"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /did you mean '--log-level'/);
  const r2 = await usage(["shwo"]);
  assert.equal(r2.code, 2);
  assert.match(r2.err, /unknown command 'shwo'; did you mean 'show'\?/);
});

Deno.test("main: bad flag values are usage errors", async () => {
  for (
    const [args, re] of [
      [["run", "--listen-port", "70000"], /not a port number/],
      [["run", "--log-level", "loud"], /--log-level 'loud'/],
      [["run", "--log-format", "xml"], /--log-format 'xml'/],
      [["run", "--metrics", "nohost"], /--metrics/],
      [["run", "--drain-timeout", "soon"], /--drain-timeout/],
      [["run", "--config", "a", "--state-dir", "b"], /either --config or --state-dir/],
      [["run", "--tcp-timestamps", "--no-tcp-timestamps"], /either --tcp-timestamps or --no-/],
      [["run", "--endpoint", "[::1"], /--endpoint/],
      [["add-peer", "--address", "10.0.0.0/33"], /--address '10.0.0.0\/33'/],
      [["remove-peer"], /missing argument PUBLIC_KEY/],
      [["remove-peer", "notakey"], /public key 'notakey'/],
    ] as Array<[string[], RegExp]>
  ) {
    const r = await usage(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, re);
  }
});

Deno.test("main: --help works on every level and lists the flags", async () => {
  const top = await usage(["--help"]);
  assert.equal(top.code, 0);
  for (const c of ["run", "add-peer", "remove-peer", "show", "genkey", "genpsk", "pubkey"]) {
    assert.match(top.out, new RegExp(`\\n  ${c} `));
    const r = await usage([c, "--help"]);
    assert.equal(r.code, 0, c);
    assert.match(r.out, new RegExp(`^Usage: newt-proxy ${c} `));
    assert.match(r.out, /--help/);
    const h = await usage(["help", c]);
    assert.equal(h.out, r.out);
  }
  const run = await usage(["run", "-h"]);
  for (const f of ["--config", "--state-dir", "--listen-port", "--metrics", "--log-format"]) {
    assert.ok(run.out.includes(f), f);
  }
  assert.equal((await usage(["help", "nope"])).code, 2);
  assert.match((await usage(["--version"])).out, /^newt-proxy \d+\.\d+\.\d+\n$/);
});
