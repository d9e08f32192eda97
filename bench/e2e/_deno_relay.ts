/**
 * The floor of any Deno TCP proxy, for the plain scenario: a bare relay with the kernel's TCP on
 * both sides — no WireGuard, no userspace TCP, none of our code — that accepts a connection,
 * dials the target and copies both ways with half-close. The kernel completes the client's
 * handshake before the dial (accept-before-dial), so this is cheaper than a dial-first proxy can be.
 *   deno run --allow-net=<addr> bench/e2e/_deno_relay.ts <listen-addr> <port> <target-addr> <port>
 * Prints "ready" when listening; exits when stdin closes.
 */
const [listenAddr, listenPort, targetAddr, targetPort] = Deno.args;
const listener = Deno.listen({ hostname: listenAddr!, port: Number(listenPort) });

/** Copies `from` to `to` through one reused buffer, then half-closes `to`. */
async function copy(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(2048);
  try {
    for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
      await to.write(buf.subarray(0, n));
    }
    await to.closeWrite();
  } catch { /* a reset ends the copy; close() below cleans up */ }
}

async function relay(client: Deno.TcpConn): Promise<void> {
  let target: Deno.TcpConn;
  try {
    target = await Deno.connect({ hostname: targetAddr!, port: Number(targetPort) });
  } catch {
    client.close();
    return;
  }
  try {
    client.setNoDelay(true);
    target.setNoDelay(true);
    await Promise.all([copy(client, target), copy(target, client)]);
  } finally {
    target.close();
  }
  client.close();
}

console.log("ready");
// stdin closing (the bench stopping us) ends the process
(async () => {
  for await (const _ of Deno.stdin.readable) { /* keep reading until EOF */ }
  Deno.exit(0);
})();
// a connection that fails (the client reset before set-up ended) must not end the relay
for await (const c of listener) {
  relay(c).catch(() => {
    try {
      c.close();
    } catch { /* already closed */ }
  });
}
