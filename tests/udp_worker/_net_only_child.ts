// Child of permissions_test.ts: runs with --allow-net=127.0.0.1 only; prints one JSON line.
import { isUdpWorkerSocket, listenUdpWorker } from "../../src/udp_worker/mod.ts";

const sock = await listenUdpWorker({ hostname: "127.0.0.1", port: 0 });
const buf = new Uint8Array(64);
sock.send(new Uint8Array([7, 8, 9]), { address: "127.0.0.1", port: sock.localAddr.port });
const got = await sock.receive(buf);
const pending = sock.receive(buf);
sock.close();
console.log(JSON.stringify({
  worker: isUdpWorkerSocket(sock),
  backend: sock.backend,
  echoed: [...buf.subarray(0, got?.length ?? 0)],
  closed: await pending,
}));
