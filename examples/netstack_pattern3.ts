/**
 * Pattern 3: the netstack as a network of its own, no proxying. A service listens inside the
 * tunnel on the server's tunnel address; a WireGuard peer dials it by that address.
 *
 *   deno run --allow-net=127.0.0.1 examples/netstack_pattern3.ts
 */
import { bindDevice, createNetTun, Device, generatePrivateKey, publicKey } from "../mod.ts";
import { tunnelClient } from "./_tunnel_client.ts";

const serverKey = generatePrivateKey();
const { tun, net } = await createNetTun(["10.88.0.1/24", "fd88::1/64"], [], 1420);
const device = new Device({ privateKey: serverKey });
bindDevice(device, tun);
const { port } = await device.listen({ hostname: "127.0.0.1", port: 0 });

// A line-echo service that exists only inside the tunnel.
const listener = net.listenTcp({ port: 7 });
(async () => {
  for await (const conn of listener) {
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    if (n) {
      await conn.write(
        new TextEncoder().encode(`echo: ${new TextDecoder().decode(buf.subarray(0, n))}`),
      );
    }
    await conn.closeWrite();
  }
})();

const client = await tunnelClient(publicKey(serverKey), port, "10.88.0.2", "fd88::2");
device.addPeer({ publicKey: client.publicKey, allowedIPs: ["10.88.0.2/32", "fd88::2/128"] });

for (const addr of ["10.88.0.1:7", "[fd88::1]:7"]) {
  const conn = await client.net.dialTcp(addr);
  await conn.write(new TextEncoder().encode(`hello ${addr}`));
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  console.log(new TextDecoder().decode(buf.subarray(0, n ?? 0)));
  conn.close();
}

listener.close();
await client.close();
device.close();
await net.close();
