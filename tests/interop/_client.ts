/**
 * Client probes run inside the client namespace with the kernel's own TCP/UDP stack:
 *   deno run -A tests/interop/_client.ts <mode> <host> <port> [n]
 * Prints one JSON result line.
 */
import dgram from "node:dgram";

const [mode, host, portText, nText] = Deno.args as [string, string, string, string?];
const port = Number(portText);
const n = Number(nText ?? "0");
const print = (o: unknown) => console.log(JSON.stringify(o));

async function readAll(c: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const k = await c.read(buf);
    if (k === null) break;
    parts.push(buf.slice(0, k));
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

if (mode === "echo") {
  // Half-close from the client: write n bytes, closeWrite, read the echo plus "bye".
  const c = await Deno.connect({ hostname: host, port });
  const data = new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff);
  const reading = readAll(c);
  for (let o = 0; o < data.length;) o += await c.write(data.subarray(o));
  await c.closeWrite();
  const got = await reading;
  const ok = got.length === n + 3 && got.subarray(0, n).every((b, i) => b === data[i]) &&
    new TextDecoder().decode(got.subarray(n)) === "bye";
  c.close();
  print({ ok, length: got.length });
} else if (mode === "connect") {
  const t0 = performance.now();
  try {
    const c = await Deno.connect({ hostname: host, port });
    c.close();
    print({ ok: true, ms: performance.now() - t0 });
  } catch (e) {
    print({ ok: false, error: (e as Error).name, ms: performance.now() - t0 });
  }
} else if (mode === "concurrent") {
  const results = await Promise.allSettled(Array.from({ length: n }, async (_, i) => {
    const c = await Deno.connect({ hostname: host, port });
    const msg = new TextEncoder().encode(`flow ${i}`);
    await c.write(msg);
    await c.closeWrite();
    const got = new TextDecoder().decode(await readAll(c));
    c.close();
    return got === `flow ${i}bye`;
  }));
  print({ ok: results.filter((r) => r.status === "fulfilled" && r.value).length });
} else if (mode === "udp") {
  const s = dgram.createSocket("udp4");
  const reply = await new Promise<string>((resolve) => {
    const t = setTimeout(() => resolve("timeout"), 3000);
    s.on("message", (m, r) => {
      clearTimeout(t);
      resolve(`${m.toString()}|${r.address}:${r.port}`);
    });
    s.send("datagram through the tunnel", port, host);
  });
  s.close();
  print({ reply });
}
