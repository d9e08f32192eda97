/**
 * Targets inside the server namespace (a separate process, so the proxy's permissions stay
 * exactly what the test gives it): an HTTP server, a TCP echo with half-close, a UDP echo, and
 * a "forbidden" TCP listener that counts every connection reaching it.
 *   deno run -A tests/interop/_targets.ts <address>
 */
const host = Deno.args[0]!;
const body = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
let forbiddenAccepts = 0;

Deno.serve({ hostname: host, port: 8080, onListen: () => {} }, (req) => {
  const url = new URL(req.url);
  if (url.pathname === "/big") return new Response(body);
  if (url.pathname === "/upload" && req.body) {
    return req.arrayBuffer().then(async (b) => {
      const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
      return new Response([...d].map((x) => x.toString(16).padStart(2, "0")).join(""));
    });
  }
  return new Response("hello through the tunnel\n");
});

// TCP echo: echoes until the client half-closes, then sends "bye" and closes.
(async () => {
  for await (const c of Deno.listen({ hostname: host, port: 7 })) {
    (async () => {
      const buf = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await c.read(buf);
          if (n === null) break;
          for (let o = 0; o < n;) o += await c.write(buf.subarray(o, n));
        }
        await c.write(new TextEncoder().encode("bye"));
      } catch { /* peer reset */ }
      c.close();
    })();
  }
})();

// UDP echo (node:dgram: no unstable flag needed).
import dgram from "node:dgram";
const u = dgram.createSocket("udp4");
u.on("message", (msg, rinfo) => u.send(msg, rinfo.port, rinfo.address));
u.bind(7, host);

(async () => {
  for await (const c of Deno.listen({ hostname: host, port: 9999 })) {
    (forbiddenAccepts++, c.close());
  }
})();

console.log(JSON.stringify({ event: "ready", sha256: hex }));
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  if (chunk.includes("stats")) console.log(JSON.stringify({ event: "stats", forbiddenAccepts }));
  if (chunk.includes("exit")) Deno.exit(0);
}
