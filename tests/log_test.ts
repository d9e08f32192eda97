import assert from "node:assert/strict";
import {
  BaseHandler,
  ConsoleHandler,
  formatters,
  getLevelByName,
  getLevelName,
  getLogger,
  Logger,
  LogLevels,
  LogRecord,
  MemoryHandler,
  setup,
} from "../src/log.ts";

Deno.test("LogLevels match @std/log numbers", () => {
  assert.deepEqual(
    { ...LogLevels },
    { NOTSET: 0, DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40, CRITICAL: 50 },
  );
  assert.equal(getLevelByName("WARN"), 30);
  assert.equal(getLevelName(40), "ERROR");
  assert.throws(() => getLevelName(41), RangeError);
});

Deno.test("logger filters by level and splits trailing fields", () => {
  const mem = new MemoryHandler("DEBUG");
  const log = new Logger("t", "INFO", { handlers: [mem] });
  log.debug("hidden");
  log.info("shown", 1, { peer: "abc", n: 2 });
  log.error("no fields", { a: 1 }, "x");
  assert.equal(mem.records.length, 2);
  const [r0, r1] = mem.records;
  assert.equal(r0?.msg, "shown");
  assert.deepEqual(r0?.args, [1]);
  assert.deepEqual(r0?.fields, { peer: "abc", n: 2 });
  assert.equal(r0?.levelName, "INFO");
  assert.equal(r0?.loggerName, "t");
  // A plain object that is not last stays a positional argument.
  assert.deepEqual(r1?.args, [{ a: 1 }, "x"]);
  assert.deepEqual(r1?.fields, {});
});

Deno.test("handler level filters independently of logger level", () => {
  const mem = new MemoryHandler("ERROR");
  const log = new Logger("t", "DEBUG", { handlers: [mem] });
  log.warn("no");
  log.critical("yes");
  assert.deepEqual(mem.records.map((r) => r.msg), ["yes"]);
});

Deno.test("disabled level does no formatting work", () => {
  let formatted = 0;
  let computed = 0;
  const mem = new MemoryHandler("DEBUG", {
    formatter: (r) => {
      formatted++;
      return r.msg;
    },
  });
  const log = new Logger("t", "WARN", { handlers: [mem] });
  for (let i = 0; i < 1000; i++) {
    log.debug(() => {
      computed++;
      return "x";
    }, { i });
  }
  assert.equal(formatted, 0);
  assert.equal(computed, 0);
  log.warn(() => {
    computed++;
    return "lazy";
  });
  assert.equal(computed, 1);
  assert.equal(formatted, 1);
  assert.deepEqual(mem.lines, ["lazy"]);
});

function fixedRecord(): LogRecord {
  const r = new LogRecord({
    msg: "flow closed",
    args: [],
    fields: { peer: "p 1", bytes: 10n, ok: true, err: new Error("boom") },
    level: LogLevels.WARN,
    loggerName: "proxy",
  });
  Object.defineProperty(r, "datetime", { value: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)) });
  return r;
}

Deno.test("text formatter", () => {
  assert.equal(
    formatters.text(fixedRecord()),
    '2025-01-02T03:04:05.006Z WARN  proxy flow closed peer="p 1" bytes=10 ok=true err="Error: boom"',
  );
});

Deno.test("json formatter: one object per line with ts, level, logger, msg, fields", () => {
  const line = formatters.json(fixedRecord());
  assert.ok(!line.includes("\n"));
  assert.deepEqual(JSON.parse(line), {
    ts: "2025-01-02T03:04:05.006Z",
    level: "WARN",
    logger: "proxy",
    msg: "flow closed",
    peer: "p 1",
    bytes: "10",
    ok: true,
    err: { name: "Error", message: "boom" },
  });
  // Fields never overwrite the envelope.
  const clash = new LogRecord({
    msg: "m",
    args: [],
    fields: { msg: "other" },
    level: 20,
    loggerName: "x",
  });
  const parsed = JSON.parse(formatters.json(clash));
  assert.equal(parsed.msg, "m");
  assert.equal(parsed["field.msg"], "other");
  // Cycles do not throw.
  const cyc: Record<string, unknown> = {};
  cyc["self"] = cyc;
  const bad = new LogRecord({ msg: "c", args: [], fields: { cyc }, level: 20, loggerName: "x" });
  assert.equal(JSON.parse(formatters.json(bad)).fields_error, "unserializable");
});

Deno.test("setup and getLogger wire named loggers to handlers", () => {
  const mem = new MemoryHandler("DEBUG", { formatter: formatters.json });
  const early = getLogger("wg");
  setup({
    handlers: { mem },
    loggers: {
      wg: { level: "DEBUG", handlers: ["mem"] },
      default: { level: "ERROR", handlers: [] },
    },
  });
  assert.equal(getLogger("wg"), early, "same instance reconfigured in place");
  early.debug("hello", { k: 1 });
  getLogger("other").error("dropped: no handlers");
  assert.equal(mem.records.length, 1);
  assert.equal(JSON.parse(mem.lines[0] ?? "").k, 1);
  assert.equal(getLogger("other").levelName, "ERROR");
  assert.throws(() => setup({ loggers: { x: { handlers: ["nope"] } } }), /unknown handler/);
  setup({ loggers: { default: { level: "INFO", handlers: ["default"] } } });
});

Deno.test("BaseHandler can be subclassed", () => {
  class Collect extends BaseHandler {
    out: string[] = [];
    override log(msg: string): void {
      this.out.push(msg);
    }
  }
  const h = new Collect("INFO", { formatter: (r) => `${r.levelName}:${r.msg}` });
  new Logger("s", "DEBUG", { handlers: [h] }).info("a");
  assert.deepEqual(h.out, ["INFO:a"]);
});

Deno.test("ConsoleHandler writes lines to stderr", async () => {
  const code = `
    import { ConsoleHandler, Logger, formatters } from ${
    JSON.stringify(new URL("../src/log.ts", import.meta.url).href)
  };
    new Logger("c", "INFO", { handlers: [new ConsoleHandler("INFO", { formatter: formatters.json })] }).info("to-stderr", { a: 1 });
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout), "");
  const line = JSON.parse(new TextDecoder().decode(out.stderr).trim());
  assert.equal(line.msg, "to-stderr");
  assert.equal(line.a, 1);
  assert.ok(ConsoleHandler);
});
