/**
 * Regression for a netstack-killing packet sequence the netstack fuzzer found: 37 IPv6
 * fragments (fixtures/ip6_nested_fragment.json) — many concurrent reassemblies, and one datagram
 * whose first fragment carries a nested Fragment header — make lwIP's ip6_reass fail the
 * assertion "not a valid pbuf (ip6_input check missing?)". The stack then closes itself: one
 * authenticated peer stops the proxy for everyone.
 */
import assert from "node:assert/strict";
import { Netstack } from "../../src/netstack/mod.ts";
import { echoRequest } from "../netstack/_packets.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/ip6_nested_fragment.json", import.meta.url)),
) as { packets: string[] };
const packets = fixture.packets.map((b) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0)));

Deno.test({
  name: "netstack: nested IPv6 Fragment header under reassembly pressure does not kill the stack",
}, async () => {
  const s = await Netstack.create({ addresses: ["10.88.0.1/24", "fd88::1/64"] });
  let fatal: Error | null = null;
  s.onFatal = (e) => fatal = e;
  s.onOutput = () => {};
  s.onUdp = () => {};
  for (const p of packets) s.input(p);
  assert.equal(fatal, null, `the stack died: ${(fatal as Error | null)?.message}`);
  let replied = false;
  s.onOutput = () => replied = true;
  s.input(echoRequest("fd88::2", "fd88::1", 1, 1));
  assert.ok(replied, "still answers ping");
  assert.ok(s.stats()["ip6.nested_fragment_dropped"] > 0, "the nested fragment was dropped");
  s.close();
});
