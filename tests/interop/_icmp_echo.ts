/**
 * A minimal ICMP echo responder for the WireGuard interop test (before the netstack answers
 * pings itself): turns an echo request to one of `ours` into the reply, or returns null.
 */

function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i < end; i += 2) acc += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  return acc;
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/** Builds an echo reply to `p` if it is an ICMPv4/ICMPv6 echo request; otherwise null. */
export function echoReply(p: Uint8Array): Uint8Array | null {
  const v = p[0]! >> 4;
  if (v === 4) {
    const ihl = (p[0]! & 0xf) * 4;
    if (p[9] !== 1 || p[ihl] !== 8) return null;
    const r = p.slice();
    r.set(p.subarray(16, 20), 12);
    r.set(p.subarray(12, 16), 16);
    r[8] = 64;
    r[10] = r[11] = 0;
    const ipc = fold(sum16(r, 0, ihl));
    r[10] = ipc >> 8;
    r[11] = ipc & 0xff;
    r[ihl] = 0;
    r[ihl + 2] = r[ihl + 3] = 0;
    const c = fold(sum16(r, ihl, r.length));
    r[ihl + 2] = c >> 8;
    r[ihl + 3] = c & 0xff;
    return r;
  }
  if (v === 6) {
    if (p[6] !== 58 || p[40] !== 128) return null;
    const r = p.slice();
    r.set(p.subarray(24, 40), 8);
    r.set(p.subarray(8, 24), 24);
    r[7] = 64;
    r[40] = 129;
    r[42] = r[43] = 0;
    const len = r.length - 40;
    let acc = sum16(r, 8, 40);
    acc += len + 58;
    const c = fold(sum16(r, 40, r.length, acc));
    r[42] = c >> 8;
    r[43] = c & 0xff;
    return r;
  }
  return null;
}

/** An ICMPv4 echo request from src to dst (addresses as 4-byte arrays). */
export function echoRequestV4(src: number[], dst: number[], id: number, seq: number): Uint8Array {
  const p = new Uint8Array(20 + 8 + 32);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 1;
  p.set(src, 12);
  p.set(dst, 16);
  const ipc = fold(sum16(p, 0, 20));
  p[10] = ipc >> 8;
  p[11] = ipc & 0xff;
  p[20] = 8;
  p[24] = id >> 8;
  p[25] = id & 0xff;
  p[26] = seq >> 8;
  p[27] = seq & 0xff;
  const c = fold(sum16(p, 20, p.length));
  p[22] = c >> 8;
  p[23] = c & 0xff;
  return p;
}
