import assert from "node:assert/strict";
import { FFI_BATCH, FFI_SLOT_BYTES, ffiUdpSupported, listenUdpFfi } from "../src/udp_ffi.ts";
import { listenUdp } from "../src/udp_socket.ts";

const SKIP = !ffiUdpSupported();
if (SKIP) console.warn("skipped: the ffi backend needs Linux on x86_64 or aarch64");

function withTimeout<T>(p: Promise<T>, ms = 3000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

Deno.test({
  name: "ffi: a burst far beyond the kernel's default buffer waits intact for a late reader",
  ignore: SKIP,
  fn: async () => {
    const sock = listenUdpFfi({ hostname: "127.0.0.1", receiveBufferBytes: 4 << 20 });
    // The kernel doubles what it grants; root may pass net.core.rmem_max (SO_RCVBUFFORCE).
    assert.ok(sock.bufferBytes.receive >= 2 * 212992, `receive buffer ${sock.bufferBytes.receive}`);
    const sender = listenUdpFfi({ hostname: "127.0.0.1" });
    try {
      const n = 1500; // 2.1 MB of payload: ten times the 208 KiB default
      for (let i = 0; i < n; i++) {
        const d = new Uint8Array(1400).fill(i & 0xff);
        d[0] = i >> 8;
        d[1] = i & 0xff;
        sender.send(d, { address: "127.0.0.1", port: sock.localAddr.port });
      }
      sender.flush();
      await new Promise((r) => setTimeout(r, 50)); // nobody reads meanwhile
      const buf = new Uint8Array(2048);
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) {
        const r = await withTimeout(sock.receive(buf));
        assert.ok(r !== null);
        assert.equal(r.length, 1400);
        assert.equal(r.remote.port, sender.localAddr.port);
        seen.add((buf[0]! << 8) | buf[1]!);
      }
      assert.equal(seen.size, n, "every datagram arrived once");
      assert.equal(sender.stats.sendErrors, 0);
    } finally {
      sock.close();
      sender.close();
    }
  },
});

Deno.test({
  name: "ffi: sends batch across sendmmsg calls in order; oversized ones are refused and counted",
  ignore: SKIP,
  fn: async () => {
    const sock = listenUdpFfi({ hostname: "127.0.0.1" });
    const peer = await listenUdp({ hostname: "127.0.0.1", backend: "node" });
    try {
      const n = FFI_BATCH * 3 + 5;
      for (let i = 0; i < n; i++) {
        sock.send(new Uint8Array([i, 7]), { address: "127.0.0.1", port: peer.localAddr.port });
      }
      sock.send(new Uint8Array(FFI_SLOT_BYTES + 1), { address: "127.0.0.1", port: 9 });
      assert.equal(sock.stats.sendErrors, 1);
      assert.match(sock.stats.lastSendError ?? "", /EMSGSIZE/);
      const buf = new Uint8Array(16);
      const got: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = await withTimeout(peer.receive(buf));
        assert.equal(r?.length, 2);
        got.push(buf[0]!);
      }
      assert.deepEqual(got, [...Array(n).keys()], "one socket, one order");
      // Unreachable from an IPv4 socket: counted, not thrown.
      sock.send(new Uint8Array(1), { address: "::1", port: 9 });
      assert.equal(sock.stats.sendErrors, 2);
      assert.match(sock.stats.lastSendError ?? "", /EAFNOSUPPORT/);
    } finally {
      sock.close();
      peer.close();
    }
  },
});

Deno.test({
  name: "ffi: a port in use is AddrInUse; a closed socket frees its port",
  ignore: SKIP,
  fn: () => {
    const a = listenUdpFfi({ hostname: "127.0.0.1" });
    assert.throws(
      () => listenUdpFfi({ hostname: "127.0.0.1", port: a.localAddr.port }),
      Deno.errors.AddrInUse,
    );
    a.close();
    const again = listenUdpFfi({ hostname: "127.0.0.1", port: a.localAddr.port });
    again.close();
    assert.throws(() => listenUdpFfi({ hostname: "not-an-ip" }), TypeError);
  },
});

Deno.test({
  name: "ffi: without --allow-ffi the error says so",
  ignore: SKIP,
  fn: async () => {
    const code = `
      import { listenUdp } from ${
      JSON.stringify(new URL("../src/udp_socket.ts", import.meta.url).href)
    };
      try { await listenUdp({ hostname: "127.0.0.1", backend: "ffi" }); console.log("bound"); }
      catch (e) { console.log(e.name + ": " + e.message); }
    `;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(file, code);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-net=127.0.0.1", file],
      stdout: "piped",
      stderr: "piped",
    }).output().finally(() => Deno.remove(file));
    const text = new TextDecoder().decode(out.stdout);
    assert.match(text, /NotCapable: .*--allow-ffi/, text + new TextDecoder().decode(out.stderr));
  },
});

Deno.test({
  name: "ffi: with autoFlush off (the Worker's loop) sends wait for flush(), queueing no microtask",
  ignore: SKIP,
  fn: async () => {
    const sock = listenUdpFfi({ hostname: "127.0.0.1" });
    const peer = listenUdpFfi({ hostname: "127.0.0.1" });
    try {
      sock.autoFlush = false;
      sock.send(new Uint8Array([1]), { address: "127.0.0.1", port: peer.localAddr.port });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(peer.receiveNow(), 0, "nothing went out by itself");
      sock.flush();
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(peer.receiveNow(), 1);
      assert.deepEqual([...peer.receivedData(0)], [1]);
    } finally {
      sock.close();
      peer.close();
    }
  },
});
