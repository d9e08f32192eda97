import assert from "node:assert/strict";
import { AllowedIps, describeAllowedIps } from "../../src/wireguard/allowedips.ts";
import {
  type Cidr,
  cidrContains,
  cidrOverlaps,
  formatCidr,
  maskAddress,
  parseCidr,
  parseIp,
} from "../../src/wire/ip_address.ts";

const ip = parseIp;

Deno.test("longest-prefix match with overlaps, host routes and /0", () => {
  const t = new AllowedIps<string>();
  t.insert("0.0.0.0/0", "default");
  t.insert("10.0.0.0/8", "a");
  t.insert("10.1.0.0/16", "b");
  t.insert("10.1.2.3/32", "host");
  t.insert("10.1.2.0/24", "c");
  assert.equal(t.size, 5);
  assert.equal(t.lookup(ip("10.1.2.3")), "host");
  assert.equal(t.lookup(ip("10.1.2.4")), "c");
  assert.equal(t.lookup(ip("10.1.3.4")), "b");
  assert.equal(t.lookup(ip("10.2.3.4")), "a");
  assert.equal(t.lookup(ip("11.0.0.1")), "default");
  assert.equal(t.lookup(ip("::1")), undefined, "v4 /0 does not cover v6");
  // Replacing a prefix's value.
  t.insert("10.1.0.0/16", "b2");
  assert.equal(t.size, 5);
  assert.equal(t.lookup(ip("10.1.3.4")), "b2");
  assert.deepEqual(t.entriesForPeer("b"), []);
  assert.deepEqual(t.entriesForPeer("b2").map(formatCidr), ["10.1.0.0/16"]);
});

Deno.test("host bits are masked on insert, remove and get", () => {
  const t = new AllowedIps<number>();
  t.insert("192.168.1.77/24", 1);
  assert.deepEqual(t.entriesForPeer(1).map(formatCidr), ["192.168.1.0/24"]);
  assert.equal(t.get("192.168.1.0/24"), 1);
  assert.equal(t.get("192.168.1.1/24"), 1);
  assert.equal(t.get("192.168.1.0/25"), undefined);
  assert.equal(t.remove("192.168.1.200/24"), true);
  assert.equal(t.size, 0);
});

Deno.test("IPv4 and IPv6 are separate tries", () => {
  const t = new AllowedIps<string>();
  t.insert("::/0", "v6default");
  t.insert("fd00::/8", "ula");
  t.insert("fd00:1::1/128", "host6");
  t.insert("0.0.0.0/0", "v4default");
  assert.equal(t.lookup(ip("fd00:1::1")), "host6");
  assert.equal(t.lookup(ip("fd00:1::2")), "ula");
  assert.equal(t.lookup(ip("2001:db8::1")), "v6default");
  assert.equal(t.lookup(ip("::ffff:10.0.0.1")), "v6default", "mapped v6 is v6 here");
  assert.equal(t.lookup(ip("1.2.3.4")), "v4default");
  // Same bit pattern in both families does not collide.
  const u = new AllowedIps<string>();
  u.insert("10.0.0.0/8", "v4");
  assert.equal(u.lookup(ip("a00::")), undefined);
  u.insert("a00::/8", "v6");
  assert.equal(u.lookup(ip("10.0.0.1")), "v4");
  assert.equal(u.lookup(ip("a00::1")), "v6");
});

Deno.test("lookup reads from (bytes, offset, length) and from packets without copying", () => {
  const t = new AllowedIps<string>();
  t.insert("10.0.0.0/24", "v4");
  t.insert("fd00::/64", "v6");
  const buf = new Uint8Array(64);
  buf.set([10, 0, 0, 9], 7);
  assert.equal(t.lookup(buf, 7, 4), "v4");
  assert.equal(t.lookup(buf.subarray(7, 11)), "v4");
  assert.equal(t.lookup(buf, 7, 5), undefined, "bad length");
  assert.equal(t.lookup(buf, 62, 4), undefined, "past the end");
  assert.equal(t.lookup(buf, -1, 4), undefined);
  const p4 = new Uint8Array(20);
  p4[0] = 0x45;
  p4.set([10, 0, 0, 1], 12);
  p4.set([8, 8, 8, 8], 16);
  assert.equal(t.lookupSource(p4), "v4");
  assert.equal(t.lookupDestination(p4), undefined);
  const p6 = new Uint8Array(40);
  p6[0] = 0x60;
  p6.set(ip("2001:db8::1"), 8);
  p6.set(ip("fd00::5"), 24);
  assert.equal(t.lookupDestination(p6), "v6");
  assert.equal(t.lookupSource(p6), undefined);
  assert.equal(t.lookupDestination(p6.subarray(0, 39)), undefined);
  assert.equal(t.lookupSource(new Uint8Array(0)), undefined);
});

Deno.test("remove, removeByPeer, owner-checked remove keep the trie consistent", () => {
  const t = new AllowedIps<string>();
  for (const p of ["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.2.0.0/16"]) t.insert(p, "a");
  t.insert("10.1.1.128/25", "b");
  t.insert("fd00::/8", "b");
  assert.equal(t.remove("10.1.0.0/16", "b"), false, "owned by a");
  assert.equal(t.remove("10.1.0.0/16"), true);
  assert.equal(t.remove("10.1.0.0/16"), false);
  assert.equal(t.remove("10.3.0.0/16"), false);
  assert.equal(t.lookup(ip("10.1.5.5")), "a", "falls back to /8");
  assert.equal(t.lookup(ip("10.1.1.200")), "b");
  assert.equal(t.removeByPeer("b"), 2);
  assert.equal(t.removeByPeer("b"), 0);
  assert.equal(t.lookup(ip("10.1.1.200")), "a");
  assert.equal(t.lookup(ip("fd00::1")), undefined);
  assert.deepEqual(t.entriesForPeer("a").map(formatCidr), [
    "10.0.0.0/8",
    "10.1.1.0/24",
    "10.2.0.0/16",
  ]);
  assert.equal(t.removeByPeer("a"), 3);
  assert.equal(t.size, 0);
  assert.deepEqual(t.entries(), []);
  assert.equal(t.lookup(ip("10.0.0.1")), undefined);
});

Deno.test("overlapping / overlaps for rejecting AllowedIPs shared between peers", () => {
  const t = new AllowedIps<string>();
  t.insert("10.0.0.0/16", "a");
  t.insert("10.0.5.0/24", "b");
  t.insert("10.0.5.7/32", "c");
  t.insert("10.1.0.0/16", "d");
  t.insert("fd00::/16", "e");
  const names = (p: string) => t.overlapping(p).map((e) => e.value).sort();
  assert.deepEqual(names("10.0.5.0/24"), ["a", "b", "c"]);
  assert.deepEqual(names("10.0.5.7/32"), ["a", "b", "c"]);
  assert.deepEqual(names("10.0.5.8/32"), ["a", "b"]);
  assert.deepEqual(names("10.0.0.0/8"), ["a", "b", "c", "d"]);
  assert.deepEqual(names("0.0.0.0/0"), ["a", "b", "c", "d"]);
  assert.deepEqual(names("10.2.0.0/16"), []);
  assert.deepEqual(names("::/0"), ["e"]);
  assert.ok(t.overlaps("10.1.200.0/24"));
  assert.ok(!t.overlaps("192.168.0.0/16"));
});

Deno.test("invalid prefixes are rejected", () => {
  const t = new AllowedIps<string>();
  assert.throws(() => t.insert("10.0.0.0/33", "x"), /prefix length out of range/);
  assert.throws(() => t.insert({ addr: new Uint8Array(5), bits: 8 }, "x"), RangeError);
  assert.throws(() => t.insert({ addr: new Uint8Array(4), bits: 33 }, "x"), RangeError);
  assert.throws(() => t.insert({ addr: new Uint8Array(4), bits: 1.5 }, "x"), RangeError);
});

Deno.test("entries are ordered and describable", () => {
  const t = new AllowedIps<string>();
  t.insert("fd00::/8", "x");
  t.insert("10.1.0.0/16", "y");
  t.insert("10.0.0.0/8", "z");
  t.insert("9.0.0.0/8", "w");
  assert.equal(
    describeAllowedIps(t, (v) => v),
    "9.0.0.0/8 -> w\n10.0.0.0/8 -> z\n10.1.0.0/16 -> y\nfd00::/8 -> x",
  );
});

// ---------------------------------------------------------------------------------------------
// Randomized check against a linear-scan reference model.

class Rng {
  constructor(private s: number) {}
  next(): number {
    // xorshift32
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (this.s = x >>> 0);
  }
  int(n: number): number {
    return this.next() % n;
  }
}

class Reference {
  entries: { cidr: Cidr; value: number }[] = [];
  #index(c: Cidr) {
    return this.entries.findIndex((e) =>
      e.cidr.bits === c.bits && e.cidr.addr.length === c.addr.length &&
      e.cidr.addr.every((b, i) => b === c.addr[i])
    );
  }
  insert(c: Cidr, value: number) {
    const m = { addr: maskAddress(c.addr, c.bits), bits: c.bits };
    const i = this.#index(m);
    if (i >= 0) this.entries[i] = { cidr: m, value };
    else this.entries.push({ cidr: m, value });
  }
  remove(c: Cidr): boolean {
    const i = this.#index({ addr: maskAddress(c.addr, c.bits), bits: c.bits });
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }
  removeByPeer(v: number): number {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.value !== v);
    return before - this.entries.length;
  }
  lookup(addr: Uint8Array): number | undefined {
    let best: { cidr: Cidr; value: number } | undefined;
    for (const e of this.entries) {
      if (cidrContains(e.cidr, addr) && (best === undefined || e.cidr.bits > best.cidr.bits)) {
        best = e;
      }
    }
    return best?.value;
  }
  overlapping(c: Cidr): string[] {
    return this.entries.filter((e) => cidrOverlaps(e.cidr, c)).map((e) => formatCidr(e.cidr))
      .sort();
  }
}

function randomAddr(rng: Rng, v6: boolean): Uint8Array {
  // Few distinct leading bytes so prefixes nest and collide often.
  const a = new Uint8Array(v6 ? 16 : 4);
  a[0] = [10, 0xfd, 192, 0x20][rng.int(4)]!;
  a[1] = rng.int(4);
  for (let i = 2; i < a.length; i++) a[i] = rng.int(3) === 0 ? rng.next() & 0xff : rng.int(2);
  return a;
}

function randomCidr(rng: Rng): Cidr {
  const v6 = rng.int(2) === 0;
  const addr = randomAddr(rng, v6);
  const max = addr.length * 8;
  const r = rng.int(10);
  const bits = r === 0 ? 0 : r === 1 ? max : rng.int(v6 ? 40 : max + 1);
  return { addr, bits };
}

Deno.test("randomized: trie agrees with linear scan under insert/remove/removeByPeer", () => {
  for (const seed of [1, 2, 3, 0xdeadbeef]) {
    const rng = new Rng(seed);
    const t = new AllowedIps<number>();
    const ref = new Reference();
    for (let step = 0; step < 3000; step++) {
      const op = rng.int(20);
      if (op < 12) {
        const c = randomCidr(rng);
        const v = rng.int(8);
        t.insert(c, v);
        ref.insert(c, v);
      } else if (op < 16) {
        const c = ref.entries.length > 0 && rng.int(2) === 0
          ? ref.entries[rng.int(ref.entries.length)]!.cidr
          : randomCidr(rng);
        assert.equal(t.remove(c), ref.remove(c));
      } else if (op === 16) {
        const v = rng.int(8);
        assert.equal(t.removeByPeer(v), ref.removeByPeer(v));
      } else {
        const c = randomCidr(rng);
        assert.deepEqual(
          t.overlapping(c).map((e) => formatCidr(e.cidr)).sort(),
          ref.overlapping(c),
          `overlapping ${formatCidr(c)}`,
        );
      }
      assert.equal(t.size, ref.entries.length);
      assert.ok(t.nodeCount <= Math.max(0, 2 * t.size - 1), "valueless nodes are compacted");
      for (let k = 0; k < 8; k++) {
        const a = randomAddr(rng, rng.int(2) === 0);
        assert.equal(t.lookup(a), ref.lookup(a), `seed ${seed} step ${step}`);
      }
      // Addresses inside existing entries exercise the deep paths.
      if (ref.entries.length > 0) {
        const e = ref.entries[rng.int(ref.entries.length)]!;
        const a = e.cidr.addr.slice();
        a[a.length - 1] = rng.next() & 0xff;
        assert.equal(t.lookup(a), ref.lookup(a));
        assert.equal(t.lookup(e.cidr.addr), ref.lookup(e.cidr.addr));
      }
    }
    // Per-peer listings match the model.
    for (let v = 0; v < 8; v++) {
      assert.deepEqual(
        t.entriesForPeer(v).map(formatCidr).sort(),
        ref.entries.filter((e) => e.value === v).map((e) => formatCidr(e.cidr)).sort(),
      );
    }
    assert.deepEqual(
      t.entries().map((e) => `${formatCidr(e.cidr)}=${e.value}`).sort(),
      ref.entries.map((e) => `${formatCidr(e.cidr)}=${e.value}`).sort(),
    );
    // Emptying by peer leaves a table that matches nothing.
    for (let v = 0; v < 8; v++) t.removeByPeer(v);
    assert.equal(t.size, 0);
    assert.equal(t.nodeCount, 0);
    assert.equal(t.lookup(parseCidr("10.0.0.0/8").addr), undefined);
  }
});

Deno.test("lookup is fast (informational)", () => {
  const t = new AllowedIps<number>();
  const rng = new Rng(7);
  for (let i = 0; i < 1000; i++) t.insert(randomCidr(rng), i);
  const pkt = new Uint8Array(40);
  pkt[0] = 0x60;
  pkt.set(ip("fd01::1:0:1"), 24);
  const n = 1_000_000;
  const t0 = performance.now();
  let hits = 0;
  for (let i = 0; i < n; i++) {
    pkt[39] = i & 0xff;
    if (t.lookupDestination(pkt) !== undefined) hits++;
  }
  const ns = (performance.now() - t0) * 1e6 / n;
  console.log(`AllowedIps v6 lookup: ${ns.toFixed(0)} ns/op (${hits} hits)`);
  assert.ok(ns < 5000);
});

Deno.test("version changes with every route change, so cached lookups can tell they are stale", () => {
  const t = new AllowedIps<string>();
  const seen = new Set([t.version]);
  const step = (what: string, f: () => unknown) => {
    f();
    assert.ok(!seen.has(t.version), `${what} changed the version`);
    seen.add(t.version);
  };
  step("insert", () => t.insert("10.0.0.0/8", "a"));
  step("insert v6", () => t.insert("fd00::/64", "b"));
  step("remove", () => t.remove("10.0.0.0/8"));
  step("removeByPeer", () => t.removeByPeer("b"));
  t.insert("10.1.0.0/16", "c");
  seen.add(t.version);
  step("clear", () => t.clear());
  const v = t.version;
  t.lookup(new Uint8Array([10, 1, 2, 3]));
  assert.equal(t.version, v, "a lookup does not");
});
