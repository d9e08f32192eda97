/**
 * Flag fuzzing: seeded random argument lists (known flags, typos, missing and odd values,
 * positionals, `--`, unicode) against every command's flag spec. Only UsageError (a one-line
 * message naming the command) or a parse result, never another exception.
 */
import assert from "node:assert/strict";
import { parseFlags } from "../../src/cli/flags.ts";
import { UsageError } from "../../src/cli/errors.ts";
import { RUN_SPEC } from "../../src/cli/run_command.ts";
import { ADD_PEER_SPEC, REMOVE_PEER_SPEC } from "../../src/cli/peer_commands.ts";
import { GENKEY_SPEC, GENPSK_SPEC, PUBKEY_SPEC } from "../../src/cli/key_commands.ts";
import { SHOW_SPEC } from "../../src/cli/show_command.ts";
import { fuzzCases, fuzzSeed, prng } from "./_fuzz.ts";

const SPECS = [
  RUN_SPEC,
  ADD_PEER_SPEC,
  REMOVE_PEER_SPEC,
  GENKEY_SPEC,
  GENPSK_SPEC,
  PUBKEY_SPEC,
  SHOW_SPEC,
];
const CASES = fuzzCases(100_000);

Deno.test("fuzz: CLI flags give a parse or a one-line UsageError, nothing else", () => {
  const seed = fuzzSeed("cli-flags", 6);
  const r = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const words = [
    "",
    "-",
    "--",
    "---",
    "-x",
    "--=",
    "10.0.0.1",
    "[::1]:9090",
    "0",
    "-1",
    "65536",
    "off",
    "ünïcödé",
    "a".repeat(300),
    "--help",
    "-h",
    "=",
    "json",
    "text",
    "debug",
    "1s",
    "5m",
    "x=y",
  ];
  let parsed = 0, usage = 0;
  for (let i = 0; i < CASES; i++) {
    const spec = pick(SPECS);
    const flags = ["--help", "-h"].concat(
      spec.flags.map((f) => `--${f.name}`),
      spec.flags.flatMap((f) => f.short ? [`-${f.short}`] : []),
    );
    const n = Math.floor(r() * 6);
    const args: string[] = [];
    for (let j = 0; j < n; j++) {
      const k = r();
      if (k < 0.45) args.push(pick(flags));
      else if (k < 0.6) {
        const f = pick(flags);
        args.push(f.length > 2 ? f.slice(0, -1) + pick("abcdefgh".split("")) : f); // typo
      } else if (k < 0.75) args.push(`${pick(flags)}=${pick(words)}`);
      else args.push(pick(words));
    }
    try {
      parseFlags(spec, args);
      parsed++;
    } catch (e) {
      assert.ok(e instanceof UsageError, `case ${i} ${JSON.stringify(args)} threw ${e}`);
      assert.ok(!(e as Error).message.includes("\n"), "one line");
      usage++;
    }
  }
  assert.equal(parsed + usage, CASES);
  assert.ok(usage > 0 && parsed > 0);
});
