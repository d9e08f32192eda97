import assert from "node:assert/strict";
import { ConfigError } from "../../src/wireguard/config.ts";
import { DEFAULT_PROXY_OPTIONS } from "../../src/cli/proxy_section.ts";
import { dnsResolverOption, flowProxyOptions } from "../../src/cli/proxy_wiring.ts";
import { parseServerConfig } from "../../src/cli/server_config.ts";

const IFACE = `[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
Address = 10.88.0.1/24
`;
const PEER_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

Deno.test("[Proxy]: every key parsed into typed options", () => {
  const { proxy } = parseServerConfig(
    IFACE + `
[Proxy]
loglevel = Debug
LogFormat = json
FlowLog = off
Metrics = [::1]:9090
MaxFlows = 10000
MaxFlowsPerPeer = off
NewFlowRate = 120/m
TcpConnectTimeout = 500ms
AcceptBeforeDial = on
UdpWorker = off
DirectSend = off
LongPathDirect = on
TcpTimestamps = off
UdpBackend = FFI
TcpIdleTimeout = 2m
UdpIdleTimeout = 30
DrainTimeout = 0
Deny = any:25 tcp
Allow = 10.0.0.0/8:80-443 tcp
Allow = [fd00::]/8:53 udp peer=${PEER_KEY}
DnsResolver = on
DnsUpstream = [2606:4700:4700::1111]:5353
Endpoint = vpn.example.com:51820
ClientDNS = 10.88.0.1
`,
  );
  assert.equal(proxy.logLevel, "DEBUG");
  assert.equal(proxy.logFormat, "json");
  assert.equal(proxy.flowLog, false);
  assert.deepEqual(proxy.metrics, { hostname: "::1", port: 9090 });
  assert.equal(proxy.maxFlows, 10000);
  assert.equal(proxy.maxFlowsPerPeer, Infinity, "off = no limit");
  assert.equal(proxy.newFlowRate, 2);
  assert.equal(proxy.tcpConnectTimeoutMs, 500);
  assert.equal(proxy.acceptBeforeDial, true);
  assert.equal(proxy.udpWorker, false);
  assert.equal(proxy.directSend, false);
  assert.equal(proxy.longPathDirect, true);
  assert.equal(proxy.tcpTimestamps, false);
  assert.equal(proxy.udpBackend, "ffi");
  assert.equal(proxy.tcpIdleTimeoutMs, 120_000);
  assert.equal(proxy.udpIdleTimeoutMs, 30_000);
  assert.equal(proxy.drainTimeoutMs, 0);
  assert.deepEqual(proxy.rules.map((r) => [r.action, r.portLow, r.portHigh, r.proto, r.peer]), [
    ["deny", 25, 25, "tcp", undefined],
    ["allow", 80, 443, "tcp", undefined],
    ["allow", 53, 53, "udp", PEER_KEY],
  ]);
  assert.equal(proxy.rules[1]?.cidr?.bits, 8);
  assert.equal(proxy.dnsResolver, true);
  assert.deepEqual(proxy.dnsUpstream, { ipAddr: "2606:4700:4700::1111", port: 5353 });
  assert.deepEqual(
    parseServerConfig(IFACE + "[Proxy]\nDnsUpstream = 1.1.1.1\nDnsResolver = off\n").proxy,
    {
      ...DEFAULT_PROXY_OPTIONS,
      rules: [],
      dnsUpstream: { ipAddr: "1.1.1.1", port: 53 },
      dnsResolver: false,
    },
  );
  assert.equal(proxy.endpoint, "vpn.example.com:51820");
  assert.deepEqual(proxy.clientDns, ["10.88.0.1"]);
});

Deno.test("[Proxy]: absent section gives the documented defaults", () => {
  const { proxy } = parseServerConfig(IFACE);
  assert.deepEqual(proxy, { ...DEFAULT_PROXY_OPTIONS, rules: [] });
  assert.equal(proxy.tcpConnectTimeoutMs, 5000);
  assert.equal(proxy.flowLog, true);
  assert.equal(proxy.acceptBeforeDial, false, "dial first unless asked");
  assert.equal(proxy.directSend, true, "direct send unless switched off");
  assert.equal(proxy.longPathDirect, false, "a long path's bulk through the Worker unless asked");
  assert.equal(proxy.tcpTimestamps, true, "TCP timestamps unless switched off");
  assert.equal(proxy.udpWorker, true);
  assert.equal(proxy.udpBackend, "auto");
});

Deno.test("bad configs: errors name the line and the problem", () => {
  const cases: Array<[string, number, RegExp]> = [
    ["[Proxy]\nMaxFlow = 3\n", 5, /unknown key 'MaxFlow' in \[Proxy\]; did you mean 'MaxFlows'\?/],
    ["[Proxy]\nLogLevel = loud\n", 5, /invalid LogLevel 'loud': must be one of debug/],
    [
      "[Proxy]\nLogLevel = info\nLogLevel = warn\n",
      6,
      /duplicate LogLevel \(first set on line 5\)/,
    ],
    ["[Proxy]\nTcpIdleTimeout = 5 parsecs\n", 5, /invalid TcpIdleTimeout/],
    ["[Proxy]\nTcpConnectTimeout = 10m\n", 5, /out of range/],
    ["[Proxy]\nAllow = 10.0.0.0/8:99999\n", 5, /invalid Allow .*bad port/],
    ["[Proxy]\nDeny = any:25 icmp\n", 5, /invalid Deny .*unknown word "icmp"/],
    ["[Proxy]\nMetrics = localhost\n", 5, /invalid Metrics 'localhost'/],
    ["[Proxy]\nDnsUpstream = dns.google\n", 5, /invalid DnsUpstream/],
    ["[Proxy]\nFlowLog = maybe\n", 5, /must be on or off/],
    ["[Proxy]\nAcceptBeforeDial = sometimes\n", 5, /invalid AcceptBeforeDial .*must be on or off/],
    ["[Proxy]\nUdpWorker = 2\n", 5, /invalid UdpWorker .*must be on or off/],
    ["[Proxy]\nUdpBackend = dpdk\n", 5, /invalid UdpBackend .*must be auto, deno, node or ffi/],
    ["[Proxy]\nDnsUpstream = 1.1.1.1\nDnsUpstream = 8.8.8.8\n", 6, /duplicate DnsUpstream/],
    ["[Proxy]\nNewFlowRate = fast\n", 5, /invalid NewFlowRate/],
    ["[Proxy]\n\n[Proxy]\n", 6, /duplicate \[Proxy\] section \(first on line 4\)/],
    ["[Prxy]\n", 4, /unknown section \[Prxy\]/],
    ["[Peer]\nPublicKey = bad\n", 5, /invalid PublicKey/],
  ];
  for (const [tail, line, re] of cases) {
    assert.throws(() => parseServerConfig(IFACE + tail), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.line, line, `${e.message} (${tail.trim()})`);
      assert.match(e.message, re);
      assert.match(e.message, new RegExp(`^line ${line}: `));
      return true;
    });
  }
});

Deno.test("server config: overlapping AllowedIPs between peers are rejected on the later peer's line", () => {
  const text = IFACE + `
[Peer]
PublicKey = ${PEER_KEY}
AllowedIPs = 10.88.0.0/28

[Peer]
PublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=
AllowedIPs = fd00::/64, 10.88.0.5/32
`;
  assert.throws(() => parseServerConfig(text), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.line, 9);
    assert.match(
      e.message,
      /AllowedIPs 10\.88\.0\.5\/32 overlaps 10\.88\.0\.0\/28 of the peer on line 5/,
    );
    return true;
  });
  // Without the overlap it parses.
  assert.equal(parseServerConfig(text.replace("10.88.0.5/32", "10.88.0.16/32")).wg.peers.length, 2);
});

Deno.test("server config: an Interface without Address is refused", () => {
  assert.throws(
    () =>
      parseServerConfig("[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"),
    /no Address/,
  );
});

Deno.test("proxy wiring: limits, unlimited, timeouts, own ports and the resolver setting", () => {
  const { proxy } = parseServerConfig(
    IFACE + `
[Proxy]
MaxFlows = off
MaxFlowsPerPeer = 7
NewFlowRate = 10/s
TcpIdleTimeout = 9s
FlowLog = off
AcceptBeforeDial = on
DnsUpstream = 9.9.9.9:5353
`,
  );
  const flow = flowProxyOptions(proxy, [9090]);
  assert.deepEqual(flow.limits, {
    maxFlows: Number.MAX_SAFE_INTEGER,
    maxFlowsPerPeer: 7,
    newFlowsPerSecond: 10,
    newFlowBurst: 20,
  });
  assert.equal(flow.timeouts?.tcpIdleTimeoutMs, 9000);
  assert.equal(flow.flowLog, false);
  assert.equal(flow.acceptBeforeDial, true);
  assert.deepEqual(flow.ownEndpoints, [{ port: 9090, proto: "tcp" }]);
  assert.deepEqual(dnsResolverOption(proxy), { upstream: { ipAddr: "9.9.9.9", port: 5353 } });
  assert.equal(dnsResolverOption({ ...proxy, dnsResolver: false }), false);
  assert.deepEqual(
    flowProxyOptions(parseServerConfig(IFACE).proxy).limits,
    {},
    "defaults left to the proxy",
  );
});

Deno.test("[Proxy] FlowBandwidth parses K/M/G and off, rejects nonsense with the line", () => {
  const parse = (v: string) => parseServerConfig(IFACE + `[Proxy]\nFlowBandwidth = ${v}\n`).proxy;
  assert.equal(parse("10M").flowBandwidth, 10 * 1024 * 1024);
  assert.equal(parse("512K").flowBandwidth, 512 * 1024);
  assert.equal(parse("off").flowBandwidth, undefined);
  assert.throws(() => parse("fast"), /line 5/);
  assert.equal(flowProxyOptions(parse("1M")).limits?.flowBytesPerSecond, 1024 * 1024);
});
