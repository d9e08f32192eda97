import assert from "node:assert/strict";
import { diffPeers, parseServerConfig, toPeerOptions } from "../../src/cli/server_config.ts";
import { formatKey } from "../../src/wireguard/key_text.ts";

const K = [
  "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
  "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=",
  "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=",
];

function config(peers: Array<[string, string]>): ReturnType<typeof parseServerConfig> {
  let text =
    "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress = 10.88.0.1/24\n";
  for (const [key, ips] of peers) text += `\n[Peer]\nPublicKey = ${key}\nAllowedIPs = ${ips}\n`;
  return parseServerConfig(text);
}

Deno.test("diffPeers: unchanged peers untouched, changed ones replaced, new added, gone removed", () => {
  const before = config([[K[0]!, "10.88.0.2/32"], [K[1]!, "10.88.0.3/32"]]).wg.peers;
  const after =
    config([[K[0]!, "10.88.0.2/32"], [K[1]!, "10.88.0.9/32"], [K[2]!, "10.88.0.4/32"]]).wg.peers;
  const d = diffPeers(before, after);
  assert.deepEqual(d.remove, [K[1]]);
  assert.deepEqual(d.add.map((p) => formatKey(p.publicKey)), [K[1], K[2]]);
  const gone = diffPeers(after, before.slice(0, 1));
  assert.deepEqual(gone.remove.sort(), [K[1], K[2]].sort());
  assert.equal(gone.add.length, 0);
  assert.deepEqual(diffPeers(before, before), { remove: [], add: [] });
});

Deno.test("toPeerOptions: CIDR text, PSK, and only IP-literal endpoints", () => {
  const text = `[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
Address = 10.88.0.1/24
[Peer]
PublicKey = ${K[0]}
PresharedKey = ${K[1]}
AllowedIPs = 10.88.0.2
Endpoint = [2001:db8::1]:51820
PersistentKeepalive = 25
[Peer]
PublicKey = ${K[2]}
Endpoint = host.example:51820
`;
  const [a, b] = parseServerConfig(text).wg.peers.map(toPeerOptions);
  assert.deepEqual(a?.allowedIPs, ["10.88.0.2/32"]);
  assert.equal(formatKey(a!.presharedKey!), K[1]);
  assert.deepEqual(a?.endpoint, { address: "2001:db8::1", port: 51820 });
  assert.equal(a?.persistentKeepalive, 25);
  assert.equal(b?.endpoint, undefined);
});
