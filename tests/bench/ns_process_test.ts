import assert from "node:assert/strict";
import { jsonObjectIn } from "../../bench/e2e/ns_process.ts";

Deno.test("bench nextJson: a reply is found inside a line V8's --trace-gc split around it", () => {
  const reply = '{"stats":{"packets.in":120,"note":"a } and a \\" inside"}}';
  assert.deepEqual(jsonObjectIn(reply, "stats"), JSON.parse(reply));
  const glued = `[25267:0x5608e816a000]   68 ms: Scav${reply}enge 4.4 (5.3) -> 4.3 (6.3) MB`;
  assert.deepEqual(jsonObjectIn(glued, "stats"), JSON.parse(reply));
  assert.equal(jsonObjectIn(glued, "gc"), undefined, "another key");
  assert.equal(jsonObjectIn('{"stats":{"a":1', "stats"), undefined, "cut short");
  assert.deepEqual(jsonObjectIn('{"stats":{ {"stats":{"a":2}}', "stats"), { stats: { a: 2 } });
});
