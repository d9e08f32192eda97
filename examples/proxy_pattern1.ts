/**
 * Pattern 1: a proxying endpoint from one call. A WireGuard peer (in-process here) reaches an
 * HTTP server on 127.0.0.1 through the proxy.
 *
 *   deno run --allow-net=127.0.0.1 examples/proxy_pattern1.ts
 *
 * Loopback is in the proxy's built-in deny set, so the example opens exactly one loopback port
 * with an explicit rule; `--allow-net=127.0.0.1` keeps Deno's own allow-list to loopback.
 */
import { generatePrivateKey, parseRule, publicKey, startProxy } from "../mod.ts";
import { httpGet, tunnelClient } from "./_tunnel_client.ts";

const web = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("hello from 127.0.0.1, through WireGuard and the proxy\n"),
);
const webPort = web.addr.port;

const serverKey = generatePrivateKey();
const proxy = await startProxy({
  privateKey: serverKey,
  listenHostname: "127.0.0.1",
  listenPort: 0,
  addresses: ["10.88.0.1/24"],
  dnsResolver: false,
  proxy: { rules: [parseRule(`allow 127.0.0.1/32:${webPort} tcp`)] },
});
const client = await tunnelClient(publicKey(serverKey), proxy.listenPort, "10.88.0.2");
proxy.addPeer({ publicKey: client.publicKey, allowedIPs: ["10.88.0.2/32"] });

const conn = await client.net.dialTcp(`127.0.0.1:${webPort}`);
const response = await httpGet(conn, "127.0.0.1");
conn.close();
console.log(response.split("\r\n\r\n")[1]?.trim());
console.log("proxy stats:", JSON.stringify(proxy.stats().tcp));

await proxy.close(2000); // stop taking flows; let open ones finish (up to 2 s)
await client.close();
await web.shutdown();
