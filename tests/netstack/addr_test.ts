import assert from "node:assert/strict";
import { formatIpv6, parseCidr, parseIp, parseIpv4, parseIpv6 } from "../../src/netstack/addr.ts";

Deno.test("IPv4 parse", () => {
  assert.deepEqual(parseIpv4("10.88.0.1"), new Uint8Array([10, 88, 0, 1]));
  for (const bad of ["10.88.0", "10.88.0.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""]) {
    assert.equal(parseIpv4(bad), null, bad);
  }
});

Deno.test("IPv6 parse and RFC 5952 format", () => {
  const cases: [string, string][] = [
    ["fd88::1", "fd88::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
    ["[fe80::1]", "fe80::1"],
  ];
  for (const [input, canonical] of cases) {
    const b = parseIpv6(input);
    assert.ok(b, input);
    assert.equal(formatIpv6(b), canonical);
  }
  const bad = [
    ...["1:2:3:4:5:6:7", "1::2::3", "12345::", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9"],
    // an embedded IPv4 address only ends the text; "1.2.3.4" is not IPv6 at all
    ...["1.2.3.4::1", "::1.2.3.4:1", "1.2.3.4", "[1.2.3.4]"],
  ];
  for (const text of bad) {
    assert.equal(parseIpv6(text), null, text);
  }
});

Deno.test("CIDR parse", () => {
  assert.deepEqual(parseCidr("10.88.0.1/24"), {
    family: 4,
    bytes: new Uint8Array([10, 88, 0, 1]),
    prefix: 24,
  });
  assert.equal(parseCidr("fd88::1/64")?.prefix, 64);
  assert.equal(parseCidr("fd88::1")?.prefix, 128);
  assert.equal(parseCidr("10.0.0.1/33"), null);
  assert.equal(parseIp("nonsense"), null);
  assert.equal(parseIp("[1.2.3.4]"), null);
  assert.deepEqual(parseIp("[::1]")?.family, 6);
});
