import assert from "node:assert/strict";
import { cutSectionText } from "../../src/cli/peer_commands.ts";
import { parseConfig } from "../../src/wireguard/config.ts";
import { formatKey } from "../../src/wireguard/key_text.ts";
import { publicKey } from "../../src/wireguard/keys.ts";
import { cli, printedConfig, tempState } from "./_run_helpers.ts";

const OTHER = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

Deno.test("add-peer / remove-peer / show on the state dir", async () => {
  const { root, state } = await tempState();
  try {
    assert.equal(
      (await cli(["run", "--state-dir", state, "--listen-port", "0", "--no-qr"])).code,
      0,
    );
    const path = `${state}/server.conf`;
    // Keep a comment and a [Proxy] section: add-peer must not lose them.
    await Deno.writeTextFile(
      path,
      (await Deno.readTextFile(path)) + "\n# mine\n[Proxy]\nFlowLog = off\n",
    );

    const added = await cli(["add-peer", "--state-dir", state, "--endpoint", "192.0.2.7:51820"]);
    assert.equal(added.code, 0, added.io.stderr);
    const client = printedConfig(added.io.stdout).config;
    assert.deepEqual(client.interface.addresses.map((a) => a.addr.join(".")).slice(0, 1), [
      "10.88.0.3",
    ]);
    assert.match(added.io.stdout, /Endpoint = 192\.0\.2\.7:51820/);
    assert.match(added.io.stdout, /[█▀▄]{20,}/);
    assert.match(added.io.stderr, /applies it on SIGHUP/);
    let text = await Deno.readTextFile(path);
    assert.match(text, /# mine\n\[Proxy\]\nFlowLog = off/);
    let server = parseConfig(text, { allowSections: ["Proxy"] });
    assert.equal(server.peers.length, 2);
    assert.equal(
      formatKey(server.peers[1]!.publicKey),
      formatKey(publicKey(client.interface.privateKey)),
    );
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);

    // Overlapping addresses are rejected; the file is unchanged.
    const clash = await cli(["add-peer", "--state-dir", state, "--address", "10.88.0.2"]);
    assert.equal(clash.code, 1);
    assert.match(
      clash.io.stderr,
      /--address 10\.88\.0\.2\/32 overlaps the AllowedIPs of the peer on line/,
    );
    assert.equal(await Deno.readTextFile(path), text);

    // A client with its own key: no private key printed, no QR.
    const own = await cli([
      "add-peer",
      "--state-dir",
      state,
      "--public-key",
      OTHER,
      "--address",
      "10.88.0.50/32",
    ]);
    assert.equal(own.code, 0, own.io.stderr);
    assert.ok(!/^PrivateKey/m.test(own.io.stdout));
    assert.ok(!/[█▀▄]/.test(own.io.stdout));
    const dup = await cli(["add-peer", "--state-dir", state, "--public-key", OTHER]);
    assert.equal(dup.code, 1);
    assert.match(dup.io.stderr, /duplicate peer/);

    const shown = await cli(["show", "--state-dir", state]);
    assert.equal(shown.code, 0, shown.io.stderr);
    assert.equal(shown.io.stdout.match(/^peer: /gm)?.length, 3);
    assert.match(shown.io.stdout, /allowed ips: 10\.88\.0\.50\/32/);
    assert.match(shown.io.stdout, /preshared key: \(hidden\)/);
    for (const p of server.peers) assert.ok(!shown.io.stdout.includes(formatKey(p.presharedKey!)));
    assert.ok(!shown.io.stdout.includes(formatKey(server.interface.privateKey)));

    const removed = await cli(["remove-peer", "--state-dir", state, OTHER]);
    assert.equal(removed.code, 0, removed.io.stderr);
    text = await Deno.readTextFile(path);
    server = parseConfig(text, { allowSections: ["Proxy"] });
    assert.equal(server.peers.length, 2);
    assert.ok(!text.includes(OTHER));
    assert.match(text, /\[Proxy\]\nFlowLog = off/);
    const again = await cli(["remove-peer", "--state-dir", state, OTHER]);
    assert.equal(again.code, 1);
    assert.match(again.io.stderr, /no peer/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("show: live figures from a running instance's metrics", async () => {
  const { root, state } = await tempState();
  try {
    assert.equal(
      (await cli(["run", "--state-dir", state, "--listen-port", "0", "--no-qr"])).code,
      0,
    );
    let shown = "";
    const r = await cli(
      ["run", "--state-dir", state, "--listen-port", "0", "--metrics", "127.0.0.1:0"],
      async (info) => {
        // A peer added after the start is flagged as not yet applied.
        assert.equal((await cli(["add-peer", "--state-dir", state, "--no-qr"])).code, 0);
        const s = await cli([
          "show",
          "--state-dir",
          state,
          "--metrics",
          `127.0.0.1:${info.metrics!.port}`,
        ]);
        shown = s.io.stdout;
      },
    );
    assert.equal(r.code, 0);
    assert.match(shown, /handshakes: 0/);
    assert.match(shown, /flows: 0 active/);
    assert.equal(shown.match(/not in the running instance/g)?.length, 1);
    const down = await cli(["show", "--state-dir", state, "--metrics", "127.0.0.1:1"]);
    assert.match(down.io.stdout, /live: no running instance at 127\.0\.0\.1:1/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cutSectionText removes exactly one [Peer] section", () => {
  const text = "[Interface]\nA = 1\n\n[Peer]\nB = 2\n\n[Peer]\nC = 3\n";
  assert.equal(cutSectionText(text, 4), "[Interface]\nA = 1\n\n[Peer]\nC = 3\n");
  assert.equal(cutSectionText(text, 7), "[Interface]\nA = 1\n\n[Peer]\nB = 2\n");
});
