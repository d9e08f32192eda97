import { Netstack } from "../src/netstack/mod.ts";
import { wire } from "./netstack/_link.ts";
const a = await Netstack.create({ addresses: ["10.66.0.2/24"] });
const b = await Netstack.create({ addresses: ["10.66.0.1/24"] });
wire(a, b);
wire(b, a);
const l = b.listenTcp({ port: 80 });
const payload = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
const [c, s] = await Promise.all([a.dialTcp({ hostname: "10.66.0.1", port: 80 }), l.accept()]);
const w = (async () => {
  await c.write(payload);
  await c.closeWrite();
})();
const buf = new Uint8Array(16384);
let off = 0;
let bad = -1;
for (;;) {
  const n = await s.read(buf);
  if (n === null) break;
  for (let i = 0; i < n; i++) if (bad < 0 && buf[i] !== payload[off + i]) bad = off + i;
  off += n;
}
await w;
console.log("received", off, "first mismatch", bad);
c.close();
s.close();
l.close();
a.close();
b.close();
