/**
 * Soak load inside the client namespace (the kernel's own TCP/UDP through wireguard-go):
 *   deno run -A tests/hardening/_soak_client.ts <host> <seconds> <shortWorkers> <longWorkers>
 * Short flows (echo of 1–16 KiB with half-close), long flows (streaming for a few seconds,
 * then reopened: churn), and UDP datagrams from a fresh source port each. Prints one JSON line.
 */
import dgram from "node:dgram";

const [host, secText, shortText, longText] = Deno.args as [string, string, string?, string?];
const end = performance.now() + Number(secText) * 1000;
const counts = {
  short: 0,
  long: 0,
  udp: 0,
  udpLost: 0,
  bytes: 0,
  errors: 0,
  errorSamples: [] as string[],
};
const fail = (e: unknown) => {
  counts.errors++;
  if (counts.errorSamples.length < 5) counts.errorSamples.push(String(e));
};

async function echo(size: number, streamMs: number): Promise<void> {
  const c = await Deno.connect({ hostname: host, port: 7 });
  const data = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
  let sent = 0, got = 0;
  const reader = (async () => {
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      got += n;
    }
  })();
  const until = performance.now() + streamMs;
  do {
    for (let o = 0; o < data.length;) o += await c.write(data.subarray(o));
    sent += data.length;
  } while (performance.now() < until);
  await c.closeWrite();
  await reader;
  c.close();
  if (got !== sent + 3) throw new Error(`echo: sent ${sent}, got ${got}`);
  counts.bytes += sent;
}

function udpOnce(): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    // An echo is lost after 500 ms: a short wait keeps the sample large when datagrams drop.
    const t = setTimeout(() => (s.close(), reject(new Error("udp timeout"))), 500);
    s.on("message", () => (clearTimeout(t), s.close(), resolve()));
    s.send("soak", 7, host);
  });
}

const workers: Promise<void>[] = [];
for (let w = 0; w < Number(shortText ?? "8"); w++) {
  workers.push((async () => {
    while (performance.now() < end) {
      try {
        await echo(1024 + Math.floor(Math.random() * 15 * 1024), 0);
        counts.short++;
      } catch (e) {
        fail(e);
      }
    }
  })());
}
for (let w = 0; w < Number(longText ?? "2"); w++) {
  workers.push((async () => {
    while (performance.now() < end) {
      try {
        await echo(64 * 1024, Math.min(3000, Math.max(0, end - performance.now())));
        counts.long++;
      } catch (e) {
        fail(e);
      }
    }
  })());
}
workers.push((async () => {
  while (performance.now() < end) {
    try {
      await udpOnce();
      counts.udp++;
    } catch {
      counts.udpLost++; // UDP may be lost under load; counted apart from TCP errors
    }
    await new Promise((r) => setTimeout(r, 20));
  }
})());
await Promise.all(workers);
console.log(JSON.stringify(counts));
