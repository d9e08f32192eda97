/**
 * The netstack under test for kernel interop, run inside a test namespace:
 *   deno run --allow-net=<…> tests/interop/_netstack_sut.ts '<json options>'
 * Our WireGuard Device bound to a netstack (createNetTun, proxying off). The stack serves, on its
 * own addresses: HTTP/1.0 on port 80 (GET /body: a fixed 4 MiB body; GET /zero?mib=N: N MiB of
 * zeros; POST /upload: answers the SHA-256 of the request body) and an echo on port 7 that
 * appends "bye" after the client's FIN. Commands/reports are JSON lines (see _sut.ts).
 */
import { createHash } from "node:crypto";
import { emit, stdinCommands } from "./_sut.ts";
import { bindDevice, createNetTun } from "../../src/tun.ts";
import type { TcpConn } from "../../src/netstack/mod.ts";
import { Device } from "../../src/wireguard/device.ts";
import { decodeKey } from "../../src/wireguard/keys.ts";

const opts = JSON.parse(Deno.args[0]!) as {
  privateKey: string;
  listenPort: number;
  addresses: string[];
  mtu: number;
  peer: { publicKey: string; allowedIPs: string[]; endpoint: { address: string; port: number } };
};

/** The fixed body: deterministic bytes, so the test can hash it independently. */
const BODY = new Uint8Array(4 << 20).map((_, i) => (i * 2654435761) >>> 24);
const te = new TextEncoder();

const device = new Device({ privateKey: decodeKey(opts.privateKey) });
device.addPeer({
  publicKey: decodeKey(opts.peer.publicKey),
  allowedIPs: opts.peer.allowedIPs,
  endpoint: opts.peer.endpoint,
});
const { tun, net } = await createNetTun(opts.addresses, [], opts.mtu);
bindDevice(device, tun);
const stats = { http: 0, echo: 0, errors: 0 };

/** Reads the request head; returns it and whatever body bytes came with it. */
async function readHead(c: TcpConn): Promise<{ head: string; rest: Uint8Array } | null> {
  let acc = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  while (acc.length < 16384) {
    const n = await c.read(buf);
    if (n === null) return null;
    const next = new Uint8Array(acc.length + n);
    next.set(acc);
    next.set(buf.subarray(0, n), acc.length);
    acc = next;
    const end = new TextDecoder().decode(acc).indexOf("\r\n\r\n");
    if (end >= 0) {
      return {
        head: new TextDecoder().decode(acc.subarray(0, end)),
        rest: acc.subarray(end + 4),
      };
    }
  }
  return null;
}

async function serveHttp(c: TcpConn): Promise<void> {
  const req = await readHead(c);
  if (!req) return;
  const [line = "", ...headers] = req.head.split("\r\n");
  const [method, target = "/"] = line.split(" ");
  const url = new URL(target, "http://stack");
  const reply = async (body: Uint8Array, type = "application/octet-stream") => {
    await c.write(
      te.encode(
        `HTTP/1.0 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`,
      ),
    );
    await c.write(body);
  };
  if (method === "GET" && url.pathname === "/body") {
    await reply(BODY);
  } else if (method === "GET" && url.pathname === "/zero") {
    const mib = Math.min(Number(url.searchParams.get("mib") ?? "1"), 1024);
    await c.write(
      te.encode(`HTTP/1.0 200 OK\r\nContent-Length: ${mib << 20}\r\n\r\n`),
    );
    const chunk = new Uint8Array(256 * 1024);
    for (let sent = 0; sent < mib << 20; sent += chunk.length) await c.write(chunk);
  } else if (method === "POST" && url.pathname === "/upload") {
    const lenHeader = headers.find((h) => h.toLowerCase().startsWith("content-length:"));
    const want = Number(lenHeader?.split(":")[1]?.trim() ?? "0");
    const h = createHash("sha256");
    h.update(req.rest);
    let got = req.rest.length;
    const buf = new Uint8Array(32 * 1024);
    while (got < want) {
      const n = await c.read(buf);
      if (n === null) break;
      h.update(buf.subarray(0, n));
      got += n;
    }
    await reply(te.encode(h.digest("hex")), "text/plain");
  } else {
    await c.write(te.encode("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
  }
  stats.http++;
}

async function serveEcho(c: TcpConn): Promise<void> {
  const buf = new Uint8Array(32 * 1024);
  for (;;) {
    const n = await c.read(buf);
    if (n === null) break;
    await c.write(buf.subarray(0, n));
  }
  await c.write(te.encode("bye"));
  stats.echo++;
}

function serve(port: number, handler: (c: TcpConn) => Promise<void>): void {
  const listener = net.listenTcp({ port });
  (async () => {
    for await (const c of listener) {
      handler(c).catch(() => stats.errors++).finally(() => c.close());
    }
  })();
}

serve(80, serveHttp);
serve(7, serveEcho);
const addr = await device.listen({ port: opts.listenPort });
emit({
  event: "listening",
  port: addr.port,
  bodySha256: createHash("sha256").update(BODY).digest("hex"),
});

for await (const cmd of stdinCommands()) {
  if (cmd.cmd === "stats") {
    const s = net.stack.stats();
    emit({
      event: "stats",
      ...stats,
      connections: s["tcp.connections"],
      tcpChecksumDrops: s["drop.tcp_checksum"],
      writeRetries: s["tcp.write_retries"],
      drops: Object.fromEntries(
        Object.entries(s).filter(([k, v]) => k.startsWith("drop.") && v > 0),
      ),
    });
  } else if (cmd.cmd === "exit") {
    await net.close();
    device.close();
    emit({ event: "bye" });
    Deno.exit(0);
  }
}
