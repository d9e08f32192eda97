import assert from "node:assert/strict";
import { parseRule, Policy, RuleSyntaxError } from "../../src/proxy/policy.ts";
import { parseCidr, parseIp } from "../../src/wire/ip_address.ts";

const grantAll = () => true;

Deno.test("policy: built-in deny set holds under a bare --allow-net, in every spelling", () => {
  const p = new Policy({
    permission: grantAll,
    extraDeny: [parseCidr("10.88.0.0/24")],
    ownEndpoints: [{ port: 51820, proto: "udp", addr: parseIp("192.0.2.10") }],
  });
  const denied = [
    "0.0.0.0",
    "0.1.2.3",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "169.254.1.1",
    "224.0.0.251",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "100.100.100.200",
    "168.63.129.16",
    "::",
    "::1",
    "fe80::1",
    "ff02::fb",
    "fd00:ec2::254",
    "::ffff:127.0.0.1",
    "::ffff:0.0.0.0",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "10.88.0.5",
  ];
  for (const a of denied) {
    const v = p.check("tcp", parseIp(a), 22);
    assert.equal(v.allowed, false, a);
    if (!v.allowed) assert.equal(v.reason, "denied-builtin", a);
  }
  assert.equal(p.check("udp", parseIp("192.0.2.10"), 51820).allowed, false);
  assert.equal(p.check("tcp", parseIp("192.0.2.10"), 51820).allowed, true);
  for (
    const a of ["192.0.2.1", "10.0.0.1", "2001:db8::1", "::ffff:192.0.2.1", "64:ff9b::c000:201"]
  ) {
    assert.equal(p.check("tcp", parseIp(a), 443).allowed, true, a);
  }
});

Deno.test("policy: rules evaluate in order, first match wins; explicit allow overrides built-ins", () => {
  const p = new Policy({
    permission: grantAll,
    rules: [
      parseRule("deny 192.0.2.0/24:25"),
      parseRule("allow 127.0.0.1/32:8080 tcp"),
      parseRule("allow 198.51.100.0/24:80-443 tcp peer=PEERKEY"),
      parseRule("deny 198.51.100.0/24"),
      parseRule("allow [2001:db8::]/32:53 udp"),
      parseRule("deny any"),
    ],
  });
  const ok = (proto: "tcp" | "udp", a: string, port: number, peer?: string) =>
    p.check(proto, parseIp(a), port, peer).allowed;
  assert.equal(ok("tcp", "192.0.2.1", 25), false);
  assert.equal(ok("tcp", "127.0.0.1", 8080), true, "explicit rule opens loopback:8080");
  assert.equal(ok("udp", "127.0.0.1", 8080), false);
  assert.equal(ok("tcp", "127.0.0.1", 8081), false);
  assert.equal(ok("tcp", "198.51.100.7", 443, "PEERKEY"), true);
  assert.equal(ok("tcp", "198.51.100.7", 443, "OTHER"), false);
  assert.equal(ok("tcp", "198.51.100.7", 444, "PEERKEY"), false);
  assert.equal(ok("udp", "2001:db8::1", 53), true);
  assert.equal(ok("tcp", "203.0.113.1", 80), false);
});

Deno.test("policy: Deno's permission answer is the last word", () => {
  const asked: string[] = [];
  const p = new Policy({ permission: (h) => (asked.push(h), h === "192.0.2.1:80") });
  assert.equal(p.check("tcp", parseIp("192.0.2.1"), 80).allowed, true);
  const v = p.check("tcp", parseIp("192.0.2.1"), 81);
  assert.deepEqual(v, { allowed: false, reason: "denied-permission", detail: "192.0.2.1:81" });
  p.check("tcp", parseIp("2001:db8::5"), 443);
  p.check("tcp", parseIp("::ffff:192.0.2.1"), 80);
  assert.deepEqual(asked, ["192.0.2.1:80", "192.0.2.1:81", "[2001:db8::5]:443", "192.0.2.1:80"]);
});

Deno.test("policy: real Deno permissions with --allow-net=<cidr>:<port> (subprocess)", async () => {
  const code = `
    import { Policy } from ${
    JSON.stringify(new URL("../../src/proxy/policy.ts", import.meta.url).href)
  };
    import { parseIp } from ${
    JSON.stringify(new URL("../../src/wire/ip_address.ts", import.meta.url).href)
  };
    const p = new Policy();
    console.log(JSON.stringify(["10.99.0.1:80", "10.99.0.1:81", "10.99.1.1:80", "127.0.0.1:80"].map((t) => {
      const [h, port] = t.split(":");
      return p.check("tcp", parseIp(h), Number(port)).allowed;
    })));`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  const out = await new Deno.Command(Deno.execPath(), {
    // `deno eval` would grant everything; `deno run` of a file applies the flags.
    args: ["run", "--no-prompt", "--allow-net=10.99.0.0/24:80,127.0.0.1", "--allow-read", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  assert.equal(out.success, true, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [true, false, false, false]);
});

Deno.test("policy: rule syntax errors are clear", () => {
  for (
    const bad of [
      "permit any",
      "allow",
      "allow 10.0.0.0/33",
      "allow any:99999",
      "allow any:80-20",
      "allow any sctp",
    ]
  ) {
    assert.throws(() => parseRule(bad), RuleSyntaxError, bad);
  }
  const r = parseRule("allow [fd00::]/8:53 udp");
  assert.equal(r.cidr?.bits, 8);
  assert.equal(r.portLow, 53);
  assert.equal(r.proto, "udp");
});

Deno.test("policy: addressAllowed (for DNS answers) applies the deny set and port-less rules", () => {
  const p = new Policy({
    permission: grantAll,
    rules: [
      parseRule("deny 192.0.2.0/24"),
      parseRule("allow 127.0.0.2/32"),
      parseRule("deny any:25"),
    ],
  });
  assert.equal(p.addressAllowed(parseIp("192.0.2.9")), false);
  assert.equal(p.addressAllowed(parseIp("127.0.0.1")), false);
  assert.equal(p.addressAllowed(parseIp("::ffff:127.0.0.1")), false);
  assert.equal(p.addressAllowed(parseIp("127.0.0.2")), true, "explicit allow");
  assert.equal(p.addressAllowed(parseIp("198.51.100.1")), true, "port rules do not apply");
});
