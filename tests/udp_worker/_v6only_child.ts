// Child of direct_send_test.ts, run in a namespace with net.ipv6.bindv6only=1 (`::` then serves
// IPv6 only, so every socket on the port is a pair): the Worker socket on `::` with direct send
// and quiet mode must still receive from and reply to IPv4 and IPv6. Prints one JSON line.
import { isUdpWorkerSocket, listenUdpWorker, type UdpSocket } from "../../src/udp_worker/mod.ts";
import type { UdpWorkerSocket } from "../../src/udp_worker/mod.ts";
import { receiveUntilClosed } from "./_helpers.ts";

const sock = await listenUdpWorker({ hostname: "::", port: 0, dualStack: true }) as UdpWorkerSocket;
const received: string[] = [];
const receiveAll = (s: UdpSocket) =>
  receiveUntilClosed(s, (r) => received.push(`${r.remote.address}`), 64);
const loops = [receiveAll(sock)];
let sides = 0;
sock.onSideSocket!((side) => {
  sides++;
  loops.push(receiveAll(side));
});
const deadline = Date.now() + 5000;
const until = async (cond: () => boolean) => {
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
};
await until(() => sides === 1);
const port = sock.localAddr.port;
const clients = ["127.0.0.1", "::1"].map((hostname) =>
  Deno.listenDatagram({ transport: "udp", hostname, port: 0 })
);
for (let i = 0; i < 10; i++) {
  for (const [j, c] of clients.entries()) {
    await c.send(new Uint8Array([i]), {
      transport: "udp",
      hostname: j === 0 ? "127.0.0.1" : "::1",
      port,
    });
  }
}
await until(() => received.length === 20);
// replies to both families, direct
const replies = clients.map(async (c) => {
  const [, from] = await c.receive();
  return (from as Deno.NetAddr).port;
});
sock.send(new Uint8Array([1]), {
  address: "127.0.0.1",
  port: (clients[0]!.addr as Deno.NetAddr).port,
});
await Promise.resolve();
sock.send(new Uint8Array([2]), { address: "::1", port: (clients[1]!.addr as Deno.NetAddr).port });
const fromPorts = await Promise.race([
  Promise.all(replies),
  new Promise<null>((r) => setTimeout(() => r(null), 3000)),
]);
const result = {
  worker: isUdpWorkerSocket(sock),
  quietModes: sock.stats.quietModes,
  v4: received.filter((a) => a === "127.0.0.1").length,
  v6: received.filter((a) => a === "::1").length,
  directReceived: sock.stats.directReceived,
  replyPortsMatch: fromPorts !== null && fromPorts.every((p) => p === port),
  directSent: sock.stats.directSent,
};
for (const c of clients) c.close();
sock.close();
await sock.closed;
await Promise.all(loops);
console.log(JSON.stringify(result));
Deno.exit(0);
