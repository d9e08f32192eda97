/**
 * A WireGuard client made of our own parts, for the examples: a Device plus a netstack of its
 * own, standing in for a phone or laptop running WireGuard.
 */
import {
  bindDevice,
  createNetTun,
  Device,
  generatePrivateKey,
  type Key,
  type Net,
  publicKey,
} from "../mod.ts";

/** A client tunnel to `server` at 127.0.0.1:`port` with tunnel addresses `addresses`. */
export async function tunnelClient(
  serverPublicKey: Key,
  port: number,
  ...addresses: string[]
): Promise<{ net: Net; publicKey: Key; close(): Promise<void> }> {
  const privateKey = generatePrivateKey();
  const { tun, net } = await createNetTun(addresses, [], 1420);
  const device = new Device({ privateKey });
  bindDevice(device, tun);
  device.addPeer({
    publicKey: serverPublicKey,
    allowedIPs: ["0.0.0.0/0", "::/0"],
    endpoint: { address: "127.0.0.1", port },
  });
  await device.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    net,
    publicKey: publicKey(privateKey),
    async close() {
      device.close();
      await net.close();
    },
  };
}

/** Sends an HTTP/1.0 GET over `conn` and returns the whole response text. */
export async function httpGet(
  conn: { write(b: Uint8Array): Promise<number>; read(b: Uint8Array): Promise<number | null> },
  host: string,
  path = "/",
): Promise<string> {
  await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
  const buf = new Uint8Array(16384);
  let text = "";
  const dec = new TextDecoder();
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return text;
}
