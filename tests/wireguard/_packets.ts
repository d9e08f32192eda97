/** Test packets for the WireGuard device. */

/** A minimal IPv4 packet (no transport header) from `src` to `dst`, `payload` bytes long. */
export function ipv4(src: number[], dst: number[], payload = 20): Uint8Array {
  const p = new Uint8Array(20 + payload);
  p[0] = 0x45;
  p[2] = (p.length >> 8) & 0xff;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(src, 12);
  p.set(dst, 16);
  for (let i = 20; i < p.length; i++) p[i] = i & 0xff;
  return p;
}
