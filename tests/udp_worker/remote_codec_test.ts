import assert from "node:assert/strict";
import {
  ADDRESS_CACHE_LIMIT,
  AddressEncoder,
  parseAddressWords,
  RemoteDecoder,
} from "../../src/udp_worker/remote_codec.ts";

function meta(text: string, port: number): Int32Array {
  const a = parseAddressWords(text)!;
  return new Int32Array([0, port | (a.family << 16), ...a.words]);
}

Deno.test("remote codec: IPv4 and IPv6 round trip to canonical text", () => {
  const dec = new RemoteDecoder();
  assert.deepEqual(dec.decode(meta("192.0.2.7", 51820)), { address: "192.0.2.7", port: 51820 });
  assert.deepEqual(dec.decode(meta("2001:DB8:0:0::1", 1)), { address: "2001:db8::1", port: 1 });
  assert.deepEqual(dec.decode(meta("::1", 65535)), { address: "::1", port: 65535 });
});

Deno.test("remote codec: IPv4-mapped IPv6 is reported as IPv4", () => {
  const m = meta("::ffff:10.1.2.3", 9);
  assert.equal(m[1]! >>> 16, 6);
  assert.deepEqual(new RemoteDecoder().decode(m), { address: "10.1.2.3", port: 9 });
});

Deno.test("remote codec: the same sender reuses one object; a change makes a new one", () => {
  const dec = new RemoteDecoder();
  const a = dec.decode(meta("10.0.0.1", 1000));
  assert.equal(dec.decode(meta("10.0.0.1", 1000)), a);
  const b = dec.decode(meta("10.0.0.1", 1001));
  assert.notEqual(b, a);
  assert.deepEqual(b, { address: "10.0.0.1", port: 1001 });
  const c = dec.decode(meta("10.0.0.2", 1001));
  assert.deepEqual(c, { address: "10.0.0.2", port: 1001 });
  // IPv4 10.0.0.1 and an IPv6 address with the same first word differ by family.
  const v6 = parseAddressWords("a00:1::")!;
  const d = dec.decode(new Int32Array([0, 1001 | (6 << 16), ...v6.words]));
  assert.equal(d.address, "a00:1::");
});

Deno.test("remote codec: encoder parses once, rejects non-addresses, stays bounded", () => {
  const enc = new AddressEncoder();
  const a = enc.encode("127.0.0.1");
  assert.equal(a?.family, 4);
  assert.equal(enc.encode("127.0.0.1"), a);
  assert.equal(enc.encode("example.com"), null);
  assert.equal(enc.encode("[::1]"), null);
  assert.equal(enc.encode("::1")?.family, 6);
  for (let i = 0; i < ADDRESS_CACHE_LIMIT * 2; i++) {
    assert.equal(enc.encode(`10.0.${i >> 8}.${i & 255}`)?.family, 4);
  }
});
