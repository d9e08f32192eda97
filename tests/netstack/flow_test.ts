import assert from "node:assert/strict";
import { FlowCancel } from "../../src/netstack/flow.ts";

Deno.test("flow cancel: listeners run once in order with the reason; a removed one does not", () => {
  const c = new FlowCancel();
  const seen: string[] = [];
  c.onAbort((r) => seen.push(`a:${(r as Error).message}`));
  const stop = c.onAbort(() => seen.push("removed"));
  c.onAbort(() => seen.push("b"));
  stop();
  assert.equal(c.aborted, false);
  const why = new Error("peer reset");
  c.abort(why);
  c.abort(new Error("again")); // once
  assert.deepEqual(seen, ["a:peer reset", "b"]);
  assert.equal(c.aborted, true);
  assert.equal(c.reason, why);
  let late = false;
  c.onAbort(() => late = true)(); // already aborted: never called, and removing it is harmless
  assert.equal(late, false);
});

Deno.test("flow cancel: its AbortSignal, made before or after, tells the same", () => {
  const before = new FlowCancel();
  const signal = before.signal;
  assert.equal(before.signal, signal); // made once
  let fired = false;
  signal.addEventListener("abort", () => fired = true);
  before.abort(new Error("hold timeout"));
  assert.ok(fired && signal.aborted);
  assert.equal((signal.reason as Error).message, "hold timeout");

  const after = new FlowCancel();
  after.abort(new Error("netstack closed"));
  assert.ok(after.signal.aborted);
  assert.equal((after.signal.reason as Error).message, "netstack closed");
});

Deno.test("flow cancel: a throwing listener does not keep the others from running", async () => {
  const c = new FlowCancel();
  let second = false;
  c.onAbort(() => {
    throw new Error("listener bug");
  });
  c.onAbort(() => second = true);
  const uncaught = new Promise<unknown>((resolve) => {
    const onError = (e: ErrorEvent) => {
      e.preventDefault();
      globalThis.removeEventListener("error", onError);
      resolve(e.error);
    };
    globalThis.addEventListener("error", onError);
  });
  c.abort(new Error("x"));
  assert.ok(second);
  assert.equal(((await uncaught) as Error).message, "listener bug");
});
