import assert from "node:assert/strict";
import { parseExposition, sampleValue } from "../../src/cli/prometheus_text.ts";
import { parseConfig } from "../../src/wireguard/config.ts";
import { formatKey } from "../../src/wireguard/key_text.ts";
import { publicKey } from "../../src/wireguard/keys.ts";
import { cli, printedConfig, tempState } from "./_run_helpers.ts";

const posix = Deno.build.os !== "windows";

function secretsOf(texts: string[]): string[] {
  const out: string[] = [];
  for (const t of texts) {
    for (const m of t.matchAll(/^(?:PrivateKey|PresharedKey) = (\S+)/gm)) out.push(m[1] as string);
  }
  return out;
}

Deno.test("embedded default: first start prints a client config and persists 0700/0600 state; second start reuses it", async () => {
  const { root, state } = await tempState();
  try {
    const first = await cli([
      "run",
      "--state-dir",
      state,
      "--listen-port",
      "0",
      "--endpoint",
      "vpn.example.com",
    ]);
    assert.equal(first.code, 0, first.io.stderr);
    const { config: client } = printedConfig(first.io.stdout);
    const serverText = await Deno.readTextFile(`${state}/server.conf`);
    const server = parseConfig(serverText, { allowSections: ["Proxy"] });
    // The client config is complete and matches the stored server side.
    assert.equal(
      formatKey(client.peers[0]!.publicKey),
      formatKey(publicKey(server.interface.privateKey)),
    );
    assert.equal(
      formatKey(server.peers[0]!.publicKey),
      formatKey(publicKey(client.interface.privateKey)),
    );
    assert.equal(
      formatKey(server.peers[0]!.presharedKey!),
      formatKey(client.peers[0]!.presharedKey!),
    );
    assert.deepEqual(client.interface.addresses.map((a) => a.bits), [32, 128]);
    assert.match(first.io.stdout, /Address = 10\.88\.0\.2\/32, fd88:6e65:7774::2\/128/);
    assert.match(first.io.stdout, /Endpoint = vpn\.example\.com:\d+/);
    assert.match(serverText, /AllowedIPs = 10\.88\.0\.2\/32, fd88:6e65:7774::2\/128/);
    assert.match(serverText, /ListenPort = 51820/);
    assert.match(serverText, /Address = 10\.88\.0\.1\/24, fd88:6e65:7774::1\/64/);
    // A QR code follows the config.
    assert.match(first.io.stdout, /[█▀▄]{20,}/);
    // The client's private key is not stored anywhere in the state dir.
    const clientKey = formatKey(client.interface.privateKey);
    for await (const e of Deno.readDir(state)) {
      assert.ok(!(await Deno.readTextFile(`${state}/${e.name}`)).includes(clientKey), e.name);
    }
    if (posix) {
      assert.equal((await Deno.stat(state)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(`${state}/server.conf`)).mode! & 0o777, 0o600);
    }
    assert.match(first.io.stderr, /state created in /);

    const second = await cli(["run", "--state-dir", state, "--listen-port", "0"]);
    assert.equal(second.code, 0, second.io.stderr);
    assert.equal(second.io.stdout, "", "no client config on a later start");
    assert.equal(await Deno.readTextFile(`${state}/server.conf`), serverText);
    const ready = second.logs.find((l) => l.includes(" ready "));
    assert.ok(ready?.includes(formatKey(publicKey(server.interface.privateKey))));

    // No log line of either start carries key material.
    const secrets = [...secretsOf([first.io.stdout, serverText])];
    assert.equal(secrets.length, 4);
    for (const line of [...first.logs, ...second.logs, first.io.stderr, second.io.stderr]) {
      for (const s of secrets) assert.ok(!line.includes(s), `secret in log: ${line}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("embedded default: --keep-client-key stores the client config 0600", async () => {
  const { root, state } = await tempState();
  try {
    const r = await cli([
      "run",
      "--state-dir",
      state,
      "--listen-port",
      "0",
      "--keep-client-key",
      "--no-qr",
    ]);
    assert.equal(r.code, 0, r.io.stderr);
    const kept = await Deno.readTextFile(`${state}/client-10.88.0.2.conf`);
    assert.equal(kept, printedConfig(r.io.stdout).text);
    assert.ok(!/[█▀▄]/.test(r.io.stdout), "--no-qr");
    if (posix) {
      assert.equal((await Deno.stat(`${state}/client-10.88.0.2.conf`)).mode! & 0o777, 0o600);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run: a world-readable key file is refused", { ignore: !posix }, async () => {
  const { root, state } = await tempState();
  try {
    assert.equal(
      (await cli(["run", "--state-dir", state, "--listen-port", "0", "--no-qr"])).code,
      0,
    );
    await Deno.chmod(`${state}/server.conf`, 0o644);
    const r = await cli(["run", "--state-dir", state, "--listen-port", "0"]);
    assert.equal(r.code, 1);
    assert.match(r.io.stderr, /server\.conf is world-readable \(mode 0644\).*chmod 600/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run --config: a bad file fails with its line number, exit 1", async () => {
  const { root } = await tempState();
  try {
    const path = `${root}/bad.conf`;
    await Deno.writeTextFile(
      path,
      "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress = 10.1.0.1/24\n\n[Proxy]\nTcpIdelTimeout = 5s\n",
      { mode: 0o600 },
    );
    const r = await cli(["run", "--config", path]);
    assert.equal(r.code, 1);
    assert.equal(
      r.io.stderr,
      `newt-proxy: ${path}: line 6: unknown key 'TcpIdelTimeout' in [Proxy]; did you mean 'TcpIdleTimeout'?\n`,
    );
    const missing = await cli(["run", "--config", `${root}/none.conf`]);
    assert.equal(missing.code, 1);
    assert.match(missing.io.stderr, /none\.conf: no such file/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run --metrics: the endpoint is scraped and parsed while running", async () => {
  const { root, state } = await tempState();
  try {
    let scraped = "";
    const r = await cli(
      [
        "run",
        "--state-dir",
        state,
        "--listen-port",
        "0",
        "--no-qr",
        "--metrics",
        "127.0.0.1:0",
        "--log-format",
        "json",
      ],
      async (info) => {
        assert.ok(info.metrics);
        const res = await fetch(`http://127.0.0.1:${info.metrics.port}/metrics`);
        scraped = await res.text();
      },
    );
    assert.equal(r.code, 0, r.io.stderr);
    const s = parseExposition(scraped);
    assert.equal(sampleValue(s, "newt_up"), 1);
    assert.equal(sampleValue(s, "newt_peers"), 1);
    assert.equal(sampleValue(s, "newt_flows_active", { proto: "tcp" }), 0);
    assert.equal(s.samples.filter((x) => x.name === "newt_peer_last_handshake_seconds").length, 1);
    // --log-format json: every log line is a JSON object.
    for (const line of r.logs) assert.equal(typeof JSON.parse(line).msg, "string");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run --no-tcp-timestamps: the netstack answers no timestamps (on without it, or with --tcp-timestamps)", async () => {
  const { root, state } = await tempState();
  try {
    const cases: Array<[string[], boolean]> = [
      [[], true],
      [["--no-tcp-timestamps"], false],
      [["--tcp-timestamps"], true],
    ];
    for (const [flag, on] of cases) {
      let seen: boolean | undefined;
      const args = ["run", "--state-dir", state, "--listen-port", "0", "--no-qr", ...flag];
      const r = await cli(args, (info) => {
        seen = info.handle.net.stack.tcpTimestamps;
      });
      assert.equal(r.code, 0, r.io.stderr);
      assert.equal(seen, on, flag.join(" "));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
