import assert from "node:assert/strict";
import {
  ConfigError,
  parseConfig,
  type PeerConfig,
  type WgConfig,
  writeConfig,
} from "../../src/wireguard/config.ts";
import { formatKey } from "../../src/wireguard/key_text.ts";
import { formatCidr, formatIp, parseCidr, parseIp } from "../../src/wire/ip_address.ts";

const K1 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const K2 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const K3 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
const K4 = "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=";

// The example of wg-quick(8), extended with every tolerated key.
const FULL = `# a comment line
[Interface]
Address = 10.200.100.8/24
address = fd42::8/64   # repeated Address lines accumulate
DNS = 10.200.100.1, search.example
PrivateKey = ${K1}
ListenPort = 51820
MTU = 1420
Table = off
PreUp = echo pre
PostUp = iptables -A FORWARD -i %i -j ACCEPT; sysctl -w net.ipv4.ip_forward=1
PostUp = echo second
PreDown = echo predown
PostDown = echo down
SaveConfig = false
FwMark = 0x1234

[Peer]
PublicKey = ${K2}
PresharedKey = ${K3}
AllowedIPs = 10.200.100.0/24, 0.0.0.0/0
AllowedIPs = ::/0
Endpoint = demo.wireguard.com:51820
PersistentKeepalive = 25

[PEER]
publickey=${K4}
Endpoint=[2001:DB8::1]:51820
AllowedIPs = 10.9.0.7
`;

Deno.test("parses the wg-quick example with every key", () => {
  const cfg = parseConfig(FULL);
  const i = cfg.interface;
  assert.equal(formatKey(i.privateKey), K1);
  assert.equal(i.listenPort, 51820);
  assert.deepEqual(i.addresses.map(formatCidr), ["10.200.100.8/24", "fd42::8/64"]);
  assert.deepEqual(i.dns.map(formatIp), ["10.200.100.1"]);
  assert.deepEqual(i.dnsSearch, ["search.example"]);
  assert.equal(i.mtu, 1420);
  assert.equal(i.table, "off");
  assert.deepEqual(i.preUp, ["echo pre"]);
  assert.deepEqual(i.postUp, [
    "iptables -A FORWARD -i %i -j ACCEPT; sysctl -w net.ipv4.ip_forward=1",
    "echo second",
  ]);
  assert.deepEqual(i.preDown, ["echo predown"]);
  assert.deepEqual(i.postDown, ["echo down"]);
  assert.equal(i.saveConfig, false);
  assert.equal(i.fwMark, 0x1234);
  assert.equal(cfg.peers.length, 2);
  const [p1, p2] = cfg.peers as [PeerConfig, PeerConfig];
  assert.equal(formatKey(p1.publicKey), K2);
  assert.equal(formatKey(p1.presharedKey!), K3);
  assert.deepEqual(p1.allowedIps.map(formatCidr), ["10.200.100.0/24", "0.0.0.0/0", "::/0"]);
  assert.deepEqual(p1.endpoint, { host: "demo.wireguard.com", port: 51820 });
  assert.equal(p1.persistentKeepalive, 25);
  assert.equal(p1.line, 18);
  assert.equal(formatKey(p2.publicKey), K4);
  assert.equal(p2.presharedKey, undefined);
  assert.deepEqual(p2.endpoint, { host: "2001:db8::1", port: 51820 });
  assert.deepEqual(p2.allowedIps.map(formatCidr), ["10.9.0.7/32"]);
  assert.equal(p2.persistentKeepalive, 0);
  assert.equal(p2.line, 26);
  assert.deepEqual(cfg.warnings, []);
});

Deno.test("minimal config, CRLF, BOM, comments and blank lines", () => {
  const cfg = parseConfig(`\uFEFF\r\n  # hi\r\n[ Interface ]\r\nPrivateKey=${K1}#c\r\n\r\n`);
  assert.equal(formatKey(cfg.interface.privateKey), K1);
  assert.equal(cfg.interface.listenPort, undefined);
  assert.deepEqual(cfg.interface.addresses, []);
  assert.deepEqual(cfg.peers, []);
});

Deno.test("AllowedIPs host bits are masked and reported as warnings", () => {
  const cfg = parseConfig(
    `[Interface]\nPrivateKey = ${K1}\n[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.0.0.5/24\n`,
  );
  assert.deepEqual(cfg.peers[0]?.allowedIps.map(formatCidr), ["10.0.0.0/24"]);
  assert.equal(cfg.warnings.length, 1);
  assert.equal(cfg.warnings[0]?.line, 5);
  assert.match(cfg.warnings[0]!.message, /host bits set; using 10.0.0.0\/24/);
});

function stripLines(cfg: WgConfig): unknown {
  return {
    ...cfg,
    warnings: [],
    peers: cfg.peers.map(({ line: _line, ...rest }) => rest),
    sections: cfg.sections.map((s) => ({
      name: s.name,
      entries: s.entries.map((e) => ({ key: e.key, value: e.value })),
    })),
  };
}

Deno.test("round trip: parse(write(x)) equals x and writing is idempotent", () => {
  const opts = { allowSections: ["Proxy"] };
  const cfg = parseConfig(FULL + "\n[Proxy]\nAllow = 10.0.0.0/8:80\nLog = json\n", opts);
  const text = writeConfig(cfg);
  const again = parseConfig(text, opts);
  assert.deepEqual(stripLines(again), stripLines(cfg));
  assert.equal(writeConfig(again), text);
  assert.equal(
    text,
    `[Interface]
PrivateKey = ${K1}
ListenPort = 51820
Address = 10.200.100.8/24, fd42::8/64
DNS = 10.200.100.1, search.example
MTU = 1420
Table = off
PreUp = echo pre
PostUp = iptables -A FORWARD -i %i -j ACCEPT; sysctl -w net.ipv4.ip_forward=1
PostUp = echo second
PreDown = echo predown
PostDown = echo down
SaveConfig = false
FwMark = 0x1234

[Peer]
PublicKey = ${K2}
PresharedKey = ${K3}
AllowedIPs = 10.200.100.0/24, 0.0.0.0/0, ::/0
Endpoint = demo.wireguard.com:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ${K4}
AllowedIPs = 10.9.0.7/32
Endpoint = [2001:db8::1]:51820

[Proxy]
Allow = 10.0.0.0/8:80
Log = json
`,
  );
});

Deno.test("round trip of generated configs", () => {
  let s = 5;
  const rnd = (n: number) => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n;
  const key = () => new Uint8Array(32).map(() => rnd(256));
  for (let n = 0; n < 100; n++) {
    const cidr = (mask: boolean) => {
      const v6 = rnd(2) === 0;
      const addr = new Uint8Array(v6 ? 16 : 4).map(() => rnd(256));
      const bits = rnd(addr.length * 8 + 1);
      return mask ? parseCidr(`${formatIp(addr)}/${bits}`) : { addr, bits };
    };
    const peers: PeerConfig[] = [];
    for (let p = rnd(4); p > 0; p--) {
      const peer: PeerConfig = {
        publicKey: key(),
        allowedIps: Array.from({ length: rnd(4) }, () => {
          const c = cidr(true);
          return { addr: c.addr, bits: c.bits };
        }),
        persistentKeepalive: rnd(3) === 0 ? 0 : rnd(65536),
      };
      if (rnd(2)) peer.presharedKey = key();
      if (rnd(2)) {
        peer.endpoint = rnd(2)
          ? { host: formatIp(new Uint8Array(16).map(() => rnd(256))), port: 1 + rnd(65535) }
          : { host: `h${rnd(1000)}.example`, port: 1 + rnd(65535) };
      }
      peers.push(peer);
    }
    const cfg: WgConfig = {
      interface: {
        privateKey: key(),
        addresses: Array.from({ length: rnd(3) }, () => cidr(false)),
        dns: Array.from(
          { length: rnd(3) },
          () => new Uint8Array(rnd(2) ? 4 : 16).map(() => rnd(256)),
        ),
        dnsSearch: rnd(2) ? ["corp.example"] : [],
        preUp: [],
        postUp: rnd(2) ? ["echo up"] : [],
        preDown: [],
        postDown: [],
      },
      peers,
      sections: [],
      warnings: [],
    };
    if (rnd(2)) cfg.interface.listenPort = rnd(65536);
    if (rnd(2)) cfg.interface.mtu = 576 + rnd(65535 - 576);
    if (rnd(2)) cfg.interface.fwMark = rnd(2) ? 0 : 1 + rnd(0xfffffff);
    const back = parseConfig(writeConfig(cfg));
    assert.deepEqual(stripLines(back), stripLines(cfg), writeConfig(cfg));
  }
});

Deno.test("extension sections: raw entries with lines, handler errors carry the line", () => {
  const text =
    `[Interface]\nPrivateKey = ${K1}\n\n[proxy]\nallow = 10.0.0.0/8\nDeny=1.2.3.4 # why\n`;
  assert.throws(() => parseConfig(text), /line 4: unknown section \[proxy\]/);
  const cfg = parseConfig(text, { allowSections: ["Proxy"] });
  assert.deepEqual(cfg.sections, [{
    name: "Proxy",
    line: 4,
    entries: [
      { key: "allow", value: "10.0.0.0/8", line: 5 },
      { key: "Deny", value: "1.2.3.4", line: 6 },
    ],
  }]);
  const seen: string[] = [];
  const handled = parseConfig(text, {
    extraSections: {
      Proxy: (e, s) => {
        seen.push(`${s.name}:${e.key}@${e.line}`);
      },
    },
  });
  assert.deepEqual(seen, ["Proxy:allow@5", "Proxy:Deny@6"]);
  assert.equal(handled.sections.length, 1);
  const err = (() => {
    try {
      parseConfig(text, {
        extraSections: {
          Proxy: (e) => {
            if (e.key === "Deny") throw new Error(`invalid Deny '${e.value}': not a CIDR`);
          },
        },
      });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof ConfigError);
  assert.equal(err.line, 6);
  assert.equal(err.message, "line 6: invalid Deny '1.2.3.4': not a CIDR");
  // A handler's own ConfigError passes through unchanged.
  assert.throws(
    () =>
      parseConfig(text, {
        extraSections: {
          Proxy: () => {
            throw new ConfigError(99, "custom");
          },
        },
      }),
    /line 99: custom/,
  );
});

Deno.test("every error path names the line and the problem", () => {
  const I = `[Interface]\nPrivateKey = ${K1}\n`; // lines 1-2
  const P = `[Peer]\nPublicKey = ${K2}\n`; // after I: lines 3-4
  const cases: [string, number, RegExp][] = [
    ["", 0, /^missing \[Interface\] section$/],
    [`# only comments\n`, 0, /missing \[Interface\]/],
    [
      `PrivateKey = ${K1}\n`,
      1,
      /'PrivateKey' appears before any \[Interface\] or \[Peer\] section/,
    ],
    [`[Interface\nPrivateKey = ${K1}\n`, 1, /malformed section header '\[Interface'/],
    [`[Inter face]\n`, 1, /malformed section header/],
    [`${I}[Interface]\n`, 3, /duplicate \[Interface\] section \(first on line 1\)/],
    [`${I}[Foo]\n`, 3, /unknown section \[Foo\]/],
    [`${I}just words\n`, 3, /expected 'Key = Value', got 'just words'/],
    [`${I}= 5\n`, 3, /missing key before '='/],
    [`${I}Frobnicate = 1\n`, 3, /unknown key 'Frobnicate' in \[Interface\]/],
    [`${I}${P}ListenPort = 1\n`, 5, /unknown key 'ListenPort' in \[Peer\]/],
    [`${I}privatekey = ${K2}\n`, 3, /duplicate PrivateKey \(first set on line 2\)/],
    [`${I}ListenPort =\n`, 3, /ListenPort has no value/],
    [`[Interface]\nPrivateKey = abc\n`, 2, /invalid PrivateKey 'abc': key must be 44 characters/],
    [
      `[Interface]\nPrivateKey = ${K1.slice(0, 42)}n=\n`,
      2,
      /invalid PrivateKey '.*': key is not canonical/,
    ],
    [`${I}ListenPort = 65536\n`, 3, /invalid ListenPort '65536': must be a port number 0-65535/],
    [`${I}ListenPort = -1\n`, 3, /invalid ListenPort/],
    [`${I}ListenPort = 0x10\n`, 3, /invalid ListenPort/],
    [
      `${I}Address = 10.0.0.1/24, 10.0.0.300/24\n`,
      3,
      /invalid Address '10.0.0.300\/24': invalid IPv4 address "10.0.0.300"/,
    ],
    [
      `${I}Address = fd00::1/129\n`,
      3,
      /invalid Address 'fd00::1\/129': prefix length out of range \(0-128\)/,
    ],
    [`${I}DNS = 1.1.1.1, not a domain\n`, 3, /invalid DNS 'not a domain': neither an IP address/],
    [`${I}DNS = 1.2.3.999\n`, 3, /invalid DNS '1.2.3.999'/],
    [`${I}MTU = 100\n`, 3, /invalid MTU '100': must be a number 576-65535/],
    [`${I}MTU = 1420.5\n`, 3, /invalid MTU/],
    [`${I}SaveConfig = yes\n`, 3, /invalid SaveConfig 'yes': must be true or false/],
    [`${I}FwMark = 0x123456789\n`, 3, /invalid FwMark '0x123456789': must be off or a 32-bit/],
    [`${I}FwMark = 4294967296\n`, 3, /invalid FwMark/],
    [`${I}[Peer]\nPublicKey = nope\n`, 4, /invalid PublicKey 'nope': key must be 44/],
    [`${I}${P}PresharedKey = ${K1.slice(0, 43)}\n`, 5, /invalid PresharedKey/],
    [
      `${I}${P}AllowedIPs = 10.0.0.0/33\n`,
      5,
      /^line 5: invalid AllowedIPs '10.0.0.0\/33': prefix length out of range \(0-32\)$/,
    ],
    [
      `${I}${P}AllowedIPs = 10.0.0.0/8, foo\n`,
      5,
      /invalid AllowedIPs 'foo': invalid IP address "foo": neither IPv4 nor IPv6/,
    ],
    [`${I}${P}AllowedIPs = ::/x\n`, 5, /invalid AllowedIPs '::\/x': length "x" is not a number/],
    [`${I}${P}Endpoint = 1.2.3.4\n`, 5, /invalid Endpoint '1.2.3.4': missing ':port'/],
    [
      `${I}${P}Endpoint = ::1:51820\n`,
      5,
      /invalid Endpoint '::1:51820': IPv6 addresses must be in brackets/,
    ],
    [`${I}${P}Endpoint = 1.2.3.4:0\n`, 5, /invalid Endpoint '1.2.3.4:0': port must be 1-65535/],
    [`${I}${P}Endpoint = 1.2.3.4:70000\n`, 5, /invalid Endpoint '1.2.3.4:70000': port "70000"/],
    [
      `${I}${P}Endpoint = bad_host!:1\n`,
      5,
      /invalid Endpoint 'bad_host!:1': "bad_host!" is not a valid host name/,
    ],
    [`${I}${P}Endpoint = [fe80::1%eth0]:1\n`, 5, /zones are not supported/],
    [
      `${I}${P}PersistentKeepalive = 65536\n`,
      5,
      /invalid PersistentKeepalive '65536': must be off or/,
    ],
    [`${I}${P}PersistentKeepalive = soon\n`, 5, /invalid PersistentKeepalive/],
    [`${I}${P}PublicKey = ${K3}\n`, 5, /duplicate PublicKey \(first set on line 4\)/],
    [
      `${I}${P}Endpoint = 1.2.3.4:1\nEndpoint = 1.2.3.4:2\n`,
      6,
      /duplicate Endpoint \(first set on line 5\)/,
    ],
    [`[Interface]\nListenPort = 1\n`, 1, /^line 1: \[Interface\] has no PrivateKey$/],
    [`${I}[Peer]\nAllowedIPs = 10.0.0.0/8\n`, 3, /^line 3: \[Peer\] has no PublicKey$/],
    [`${I}${P}${P}`, 5, /^line 5: duplicate peer .* \(first on line 3\)$/],
  ];
  for (const [text, line, re] of cases) {
    try {
      parseConfig(text);
      assert.fail(`accepted: ${JSON.stringify(text)}`);
    } catch (e) {
      assert.ok(e instanceof ConfigError, `${JSON.stringify(text)}: ${e}`);
      assert.equal(e.line, line, `${JSON.stringify(text)}: ${e.message}`);
      assert.match(e.message, re, JSON.stringify(text));
      if (line > 0) assert.ok(e.message.startsWith(`line ${line}: `));
    }
  }
});

Deno.test("tolerant values wg-quick accepts", () => {
  const cfg = parseConfig(
    `[Interface]\nPrivateKey = ${K1}\nAddress =\nDNS = ,\nFwMark = off\nSaveConfig = TRUE\n` +
      `ListenPort = 0\nAddress = 10.0.0.1\n[Peer]\nPublicKey = ${K2}\nAllowedIPs =\n` +
      `PersistentKeepalive = off\nEndpoint = localhost:1\n`,
  );
  assert.deepEqual(cfg.interface.addresses, [{ addr: parseIp("10.0.0.1"), bits: 32 }]);
  assert.deepEqual(cfg.interface.dns, []);
  assert.equal(cfg.interface.fwMark, 0);
  assert.equal(cfg.interface.saveConfig, true);
  assert.equal(cfg.interface.listenPort, 0);
  assert.deepEqual(cfg.peers[0]?.allowedIps, []);
  assert.equal(cfg.peers[0]?.persistentKeepalive, 0);
  assert.deepEqual(cfg.peers[0]?.endpoint, { host: "localhost", port: 1 });
});
