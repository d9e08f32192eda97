/**
 * The benchmark's C helpers (targets, connection probe, impairing relay), compiled with the
 * system's gcc into a temporary directory at the start of a run.
 *
 * @module
 */

/** Paths of the compiled helpers. */
export interface Tools {
  /** TCP + UDP echo target. */
  echoServer: string;
  /** Connection-rate and idle-flow probe. */
  connProbe: string;
  /** Seeded delaying/dropping UDP relay. */
  udpRelay: string;
  /** The directory holding them (removed by `removeTools`). */
  dir: string;
}

const SOURCES = { echoServer: "echo_server.c", connProbe: "conn_probe.c", udpRelay: "udp_relay.c" };

/** Compiles the helpers; throws with gcc's message when one fails. */
export async function buildTools(): Promise<Tools> {
  const dir = await Deno.makeTempDir({ prefix: "newt-bench-" });
  const out: Record<string, string> = {};
  for (const [name, file] of Object.entries(SOURCES)) {
    const src = new URL(`./c/${file}`, import.meta.url).pathname;
    const bin = `${dir}/${file.replace(/\.c$/, "")}`;
    const r = await new Deno.Command("gcc", {
      args: ["-O2", "-Wall", "-o", bin, src],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(`gcc ${file}: ${new TextDecoder().decode(r.stderr)}`);
    out[name] = bin;
  }
  return { echoServer: out.echoServer!, connProbe: out.connProbe!, udpRelay: out.udpRelay!, dir };
}

/** Removes the compiled helpers. */
export async function removeTools(tools: Tools): Promise<void> {
  await Deno.remove(tools.dir, { recursive: true }).catch(() => {});
}
