import assert from "node:assert/strict";
import {
  cidrContains,
  cidrOverlaps,
  embeddedV4,
  formatCidr,
  formatHostPort,
  formatIp,
  ipEquals,
  ipPacketDestination,
  ipPacketSource,
  ipPacketVersion,
  IpParseError,
  isV4Mapped,
  mapV4,
  maskAddress,
  nat64ToV4,
  parseCidr,
  parseHostPort,
  parseIp,
  parseIpv4,
  parseIpv6,
  sixToFourToV4,
  tryParseIp,
  unmapV4,
} from "../../src/wire/ip_address.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("parse IPv4", () => {
  assert.deepEqual(parseIpv4("0.0.0.0"), bytes(0, 0, 0, 0));
  assert.deepEqual(parseIp("192.168.1.254"), bytes(192, 168, 1, 254));
  assert.deepEqual(parseIp("255.255.255.255"), bytes(255, 255, 255, 255));
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "1.2.3.256",
      "01.2.3.4",
      "1.2.3.-1",
      "1..3.4",
      "1.2.3.4 ",
      " 1.2.3.4",
      "0x1.2.3.4",
      "1.2.3.4/8",
      "a.b.c.d",
      "1234.1.1.1",
    ]
  ) {
    assert.throws(() => parseIp(bad), IpParseError, bad);
    assert.equal(tryParseIp(bad), undefined);
  }
  assert.throws(() => parseIp("1.2.3"), /invalid IPv4 address "1.2.3": expected 4/);
  assert.throws(() => parseIp("01.2.3.4"), /leading zeros/);
});

Deno.test("parse IPv6 known answers", () => {
  const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((h) => parseInt(h, 16)));
  const cases: [string, string][] = [
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["2001:db8::1", "20010db8000000000000000000000001"],
    ["2001:DB8:0:0:1:0:0:1", "20010db8000000000001000000000001"],
    ["fe80::1:2:3:4", "fe800000000000000001000200030004"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
    ["::ffff:1.2.3.4", "00000000000000000000ffff01020304"],
    ["64:ff9b::192.0.2.33", "0064ff9b0000000000000000c0000221"],
    ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
    ["0000:0000:0000:0000:0000:0000:0000:0001", "00000000000000000000000000000001"],
  ];
  for (const [text, h] of cases) assert.deepEqual(parseIpv6(text), hex(h), text);
});

Deno.test("parse IPv6 rejects malformed text with a reason", () => {
  const cases: [string, RegExp][] = [
    ["1:2:3:4:5:6:7", /expected 8 groups/],
    ["1:2:3:4:5:6:7:8:9", /expected 8 groups/],
    ["1:2:3:4:5:6:7:8::", /at least one zero group/],
    ["::1:2:3:4:5:6:7:8", /at least one zero group/],
    ["1::2::3", /more than one/],
    [":1::", /stray/],
    ["1:::2", /stray/],
    ["1:2:3:4:5:6:7:", /stray/],
    ["12345::", /1-4 hex/],
    ["g::", /1-4 hex/],
    ["fe80::1%eth0", /zones/],
    ["::1.2.3.4:5", /1-4 hex/],
    ["::ffff:1.2.3.256", /embedded IPv4/],
    ["1.2.3.4::", /1-4 hex/],
    ["1:2:3:4:5:6:7:1.2.3.4", /expected 8 groups/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseIp(text), (e: unknown) => {
      assert.ok(e instanceof IpParseError, text);
      assert.match(e.message, re, text);
      assert.equal(e.input, text);
      return true;
    });
  }
  assert.throws(() => parseIp("hello"), /neither IPv4 nor IPv6/);
});

Deno.test("format: RFC 5952 canonical IPv6", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"], // 4.2.1, 4.1
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // 4.2.2 single zero not compressed
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // 4.2.3 longest run
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // 4.2.3 tie -> first
    ["2001:DB8::ABCD", "2001:db8::abcd"], // 4.3 lower case
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
    ["::ffff:0102:0304", "::ffff:1.2.3.4"],
    ["64:ff9b::c000:221", "64:ff9b::c000:221"],
  ];
  for (const [input, want] of cases) assert.equal(formatIp(parseIp(input)), want, input);
  assert.equal(formatIp(bytes(10, 0, 0, 1)), "10.0.0.1");
  assert.throws(() => formatIp(new Uint8Array(5)), RangeError);
});

Deno.test("format: random IPv6 agrees with the WHATWG URL serializer and round-trips", () => {
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16;
  for (let n = 0; n < 5000; n++) {
    const a = new Uint8Array(16);
    // Bias toward zero groups so compression cases are common.
    for (let g = 0; g < 8; g++) {
      if (rnd() % 2 === 0) continue;
      a[2 * g] = rnd() & 0xff;
      a[2 * g + 1] = rnd() & 0xff;
    }
    const text = formatIp(a);
    assert.deepEqual(parseIp(text), a, text);
    if (!isV4Mapped(a)) {
      // URL's IPv6 serializer (independent implementation) compresses the same way.
      assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname, text);
    }
  }
  for (let n = 0; n < 1000; n++) {
    const a = bytes(rnd() & 255, rnd() & 255, rnd() & 255, rnd() & 255);
    assert.deepEqual(parseIp(formatIp(a)), a);
  }
});

Deno.test("embedded IPv4: mapped, NAT64, 6to4", () => {
  const mapped = parseIp("::ffff:192.0.2.1");
  assert.ok(isV4Mapped(mapped));
  assert.deepEqual(unmapV4(mapped), bytes(192, 0, 2, 1));
  const plain = parseIp("2001:db8::1");
  assert.equal(unmapV4(plain), plain);
  assert.ok(!isV4Mapped(parseIp("::1.2.3.4")));
  assert.deepEqual(mapV4(bytes(192, 0, 2, 1)), mapped);
  assert.deepEqual(nat64ToV4(parseIp("64:ff9b::198.51.100.7")), bytes(198, 51, 100, 7));
  assert.equal(nat64ToV4(parseIp("64:ff9b:1::198.51.100.7")), undefined);
  assert.deepEqual(sixToFourToV4(parseIp("2002:c000:0204::1")), bytes(192, 0, 2, 4));
  assert.equal(sixToFourToV4(parseIp("2003:c000:0204::1")), undefined);
  assert.equal(sixToFourToV4(bytes(32, 2, 0, 0)), undefined);
  assert.deepEqual(embeddedV4(mapped), bytes(192, 0, 2, 1));
  assert.deepEqual(embeddedV4(parseIp("64:ff9b::127.0.0.1")), bytes(127, 0, 0, 1));
  assert.deepEqual(embeddedV4(parseIp("2002:7f00:1::")), bytes(127, 0, 0, 1));
  assert.equal(embeddedV4(plain), undefined);
  assert.equal(embeddedV4(bytes(1, 2, 3, 4)), undefined);
});

Deno.test("parseCidr masks and reports host bits; errors name the problem", () => {
  const c = parseCidr("10.1.2.3/8");
  assert.deepEqual(c.addr, bytes(10, 0, 0, 0));
  assert.equal(c.bits, 8);
  assert.equal(c.hostBitsSet, true);
  assert.equal(parseCidr("10.0.0.0/8").hostBitsSet, false);
  assert.equal(formatCidr(parseCidr("0.0.0.0/0")), "0.0.0.0/0");
  assert.equal(formatCidr(parseCidr("::/0")), "::/0");
  assert.equal(formatCidr(parseCidr("2001:db8:ffff::1/33")), "2001:db8:8000::/33");
  assert.equal(formatCidr(parseCidr("192.168.1.77/27")), "192.168.1.64/27");
  assert.equal(formatCidr(parseCidr("fd00::1/128")), "fd00::1/128");
  assert.equal(formatCidr(parseCidr("10.0.0.1", { allowBare: true })), "10.0.0.1/32");
  assert.equal(formatCidr(parseCidr("fd00::1", { allowBare: true })), "fd00::1/128");
  assert.throws(() => parseCidr("10.0.0.0/33"), /prefix length out of range \(0-32\)/);
  assert.throws(() => parseCidr("::/129"), /prefix length out of range \(0-128\)/);
  assert.throws(() => parseCidr("10.0.0.1"), /missing "\/length"/);
  for (const bad of ["10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/x", "10.0.0.0/8/8"]) {
    assert.throws(() => parseCidr(bad), IpParseError, bad);
  }
  assert.throws(() => parseCidr("10.0.0/8"), /invalid prefix "10.0.0\/8": invalid IPv4 address/);
  // Interface addresses keep their host bits.
  const iface = parseCidr("10.0.0.7/24", { mask: false });
  assert.deepEqual(iface.addr, bytes(10, 0, 0, 7));
  assert.equal(iface.hostBitsSet, true);
  try {
    parseCidr("10.0.0.0/33");
    assert.fail("no throw");
  } catch (e) {
    assert.ok(e instanceof IpParseError);
    assert.equal(e.reason, "prefix length out of range (0-32)");
    assert.equal(e.what, "prefix");
    assert.equal(e.message, 'invalid prefix "10.0.0.0/33": prefix length out of range (0-32)');
  }
});

Deno.test("maskAddress", () => {
  const all = bytes(255, 255, 255, 255);
  assert.deepEqual(maskAddress(all, 0), bytes(0, 0, 0, 0));
  assert.deepEqual(maskAddress(all, 1), bytes(128, 0, 0, 0));
  assert.deepEqual(maskAddress(all, 9), bytes(255, 128, 0, 0));
  assert.deepEqual(maskAddress(all, 31), bytes(255, 255, 255, 254));
  assert.deepEqual(maskAddress(all, 32), all);
  assert.deepEqual(all, bytes(255, 255, 255, 255), "input untouched");
});

Deno.test("cidrContains and cidrOverlaps", () => {
  const net = parseCidr("192.168.0.0/23");
  assert.ok(cidrContains(net, parseIp("192.168.1.255")));
  assert.ok(cidrContains(net, parseIp("192.168.0.0")));
  assert.ok(!cidrContains(net, parseIp("192.168.2.0")));
  assert.ok(!cidrContains(net, parseIp("::ffff:192.168.1.1")), "families never mix");
  assert.ok(cidrContains(parseCidr("0.0.0.0/0"), parseIp("8.8.8.8")));
  assert.ok(!cidrContains(parseCidr("0.0.0.0/0"), parseIp("::1")));
  assert.ok(cidrContains(parseCidr("::/0"), parseIp("::1")));
  assert.ok(cidrContains(parseCidr("fd00::/7"), parseIp("fdff::1")));
  assert.ok(!cidrContains(parseCidr("fd00::/8"), parseIp("fc00::1")));
  assert.ok(cidrOverlaps(parseCidr("10.0.0.0/8"), parseCidr("10.1.0.0/16")));
  assert.ok(cidrOverlaps(parseCidr("10.1.0.0/16"), parseCidr("10.0.0.0/8")));
  assert.ok(!cidrOverlaps(parseCidr("10.0.0.0/9"), parseCidr("10.128.0.0/9")));
  assert.ok(!cidrOverlaps(parseCidr("0.0.0.0/0"), parseCidr("::/0")));
});

Deno.test("addresses inside packets are views", () => {
  const v4 = new Uint8Array(20);
  v4[0] = 0x45;
  v4.set([10, 0, 0, 1], 12);
  v4.set([10, 0, 0, 2], 16);
  assert.equal(ipPacketVersion(v4), 4);
  assert.deepEqual(ipPacketSource(v4), bytes(10, 0, 0, 1));
  const dst = ipPacketDestination(v4)!;
  assert.deepEqual(dst, bytes(10, 0, 0, 2));
  assert.equal(dst.buffer, v4.buffer, "no copy");
  const v6 = new Uint8Array(40);
  v6[0] = 0x60;
  v6.set(parseIp("fd00::1"), 8);
  v6.set(parseIp("fd00::2"), 24);
  assert.equal(formatIp(ipPacketSource(v6)!), "fd00::1");
  assert.equal(formatIp(ipPacketDestination(v6)!), "fd00::2");
  assert.equal(ipPacketSource(v4.subarray(0, 19)), undefined);
  assert.equal(ipPacketDestination(v6.subarray(0, 39)), undefined);
  assert.equal(ipPacketVersion(new Uint8Array(0)), 0);
  assert.equal(ipPacketSource(bytes(0x50, 0)), undefined);
  assert.ok(ipEquals(bytes(1, 2), bytes(1, 2)));
  assert.ok(!ipEquals(bytes(1, 2), bytes(1, 3)));
  assert.ok(!ipEquals(bytes(1, 2), bytes(1, 2, 3)));
});

Deno.test("parseHostPort / formatHostPort", () => {
  const a = parseHostPort("1.2.3.4:80");
  assert.equal(a.host, "1.2.3.4");
  assert.equal(a.port, 80);
  assert.deepEqual(a.ip, bytes(1, 2, 3, 4));
  const b = parseHostPort("[::1]:51820");
  assert.equal(b.host, "::1");
  assert.equal(b.port, 51820);
  assert.equal(b.ip?.length, 16);
  const c = parseHostPort("vpn.example.com:65535");
  assert.equal(c.host, "vpn.example.com");
  assert.equal(c.ip, undefined);
  assert.equal(parseHostPort("localhost:0").port, 0);
  const bad: [string, RegExp][] = [
    ["1.2.3.4", /missing ':port'/],
    ["::1:80", /must be in brackets/],
    ["[::1]80", /expected ':port'/],
    ["[::1:80", /missing '\]'/],
    ["[1.2.3.4]:80", /only for IPv6/],
    ["1.2.3.4:65536", /port "65536"/],
    ["1.2.3.4:080", /port "080"/],
    ["1.2.3.4:", /port ""/],
    ["1.2.3.4:8a", /port "8a"/],
    ["1.2.3.999:80", /invalid IPv4/],
    ["[fe80::1%eth0]:80", /zones/],
    ["bad host:80", /not a valid host name/],
    [":80", /not a valid host name/],
    ["-x.com:80", /not a valid host name/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseHostPort(text), re, text);
  assert.equal(formatHostPort("::1", 80), "[::1]:80");
  assert.equal(formatHostPort("[::1]", 80), "[::1]:80");
  assert.equal(formatHostPort("1.2.3.4", 80), "1.2.3.4:80");
  assert.equal(formatHostPort("example.com", 443), "example.com:443");
  assert.equal(formatHostPort(parseIp("2001:db8::1"), 51820), "[2001:db8::1]:51820");
  assert.equal(formatHostPort(bytes(10, 0, 0, 1), 1), "10.0.0.1:1");
});
