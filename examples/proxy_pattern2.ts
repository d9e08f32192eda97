/**
 * Pattern 2: a netstack with proxying off (as the Go original's `CreateNetTUN`), switched on at
 * runtime. Before `enableTcpProxy()` a flow gets a RST; after it, the same flow is proxied.
 *
 *   deno run --allow-net=127.0.0.1 examples/proxy_pattern2.ts
 */
import {
  bindDevice,
  createNetTun,
  Device,
  generatePrivateKey,
  parseRule,
  publicKey,
} from "../mod.ts";
import { httpGet, tunnelClient } from "./_tunnel_client.ts";

const web = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("proxied after enableTcpProxy()\n"),
);
const webPort = web.addr.port;

// The server side, assembled by hand: a device, a netstack (proxy off) and the binding.
const serverKey = generatePrivateKey();
const { tun, net } = await createNetTun(["10.88.0.1/24"], [], 1420);
// Loopback is in the built-in deny set: open the example's one port with a rule.
net.proxy.policy.setRules([parseRule(`allow 127.0.0.1/32:${webPort} tcp`)]);
const device = new Device({ privateKey: serverKey });
bindDevice(device, tun);
const { port } = await device.listen({ hostname: "127.0.0.1", port: 0 });

const client = await tunnelClient(publicKey(serverKey), port, "10.88.0.2");
device.addPeer({ publicKey: client.publicKey, allowedIPs: ["10.88.0.2/32"] });

try {
  await client.net.dialTcp(`127.0.0.1:${webPort}`);
  console.log("unexpected: connected with the proxy off");
} catch (e) {
  console.log(`proxy off: ${(e as Error).name} (the peer got a RST)`);
}

net.enableTcpProxy();
const conn = await client.net.dialTcp(`127.0.0.1:${webPort}`);
console.log("proxy on:", (await httpGet(conn, "127.0.0.1")).split("\r\n\r\n")[1]?.trim());
conn.close();

await client.close();
device.close();
await net.close();
await web.shutdown();
