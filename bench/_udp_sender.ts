/// <reference lib="deno.worker" />
// Sends 148-byte datagrams with an unknown receiver index to 127.0.0.1:port as fast as it can for
// `ms`: each costs the device a full receive + parse + index lookup, then a counted drop.
import { listenUdp } from "../src/udp_socket.ts";

self.onmessage = async (e: MessageEvent<{ port: number; ms: number }>) => {
  const sock = await listenUdp({ hostname: "127.0.0.1", port: 0 });
  const msg = new Uint8Array(148);
  msg[0] = 4;
  msg[4] = 0xfe;
  const to = { address: "127.0.0.1", port: e.data.port };
  const end = performance.now() + e.data.ms;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) sock.send(msg, to);
    await new Promise((r) => setTimeout(r, 0));
  }
  await new Promise((r) => setTimeout(r, 100));
  sock.close();
  self.postMessage("done");
};
