/**
 * Small stream helpers shared by the DNS client and server.
 * @module
 */

/** Something with `read` like `Deno.Conn` or a netstack `TcpConn`. */
export interface Reader {
  /** Reads into `b`; resolves to the byte count, or null at end of stream. */
  read(b: Uint8Array): Promise<number | null>;
}

/** Reads exactly `buf.length` bytes; false at end of stream (a partial message is dropped). */
export async function readFull(conn: Reader, buf: Uint8Array): Promise<boolean> {
  let off = 0;
  // Each read returns at least one byte or null, so this ends within buf.length reads.
  while (off < buf.length) {
    const n = await conn.read(buf.subarray(off));
    if (n === null || n <= 0) return false;
    off += n;
  }
  return true;
}

/** `message` with the 2-byte length prefix DNS over TCP uses (RFC 1035 4.2.2). */
export function frameTcp(message: Uint8Array): Uint8Array {
  const framed = new Uint8Array(2 + message.length);
  framed[0] = message.length >> 8;
  framed[1] = message.length & 0xff;
  framed.set(message, 2);
  return framed;
}
