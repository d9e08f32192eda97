/**
 * Test hosts in Linux network namespaces, for interop tests against wireguard-go and the kernel's
 * own TCP/IP stack. Everything these helpers create lives inside namespaces the test made, and
 * `cleanup()` removes it. Traffic only ever goes to loopback or to those namespaces.
 */

/** Why interop tests cannot run here, or null when they can. */
export async function interopUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "interop tests need Linux";
  if (Deno.uid() !== 0) return "interop tests need root (network namespaces, /dev/net/tun)";
  for (const tool of ["ip", "wireguard-go", "wg", "ping"]) {
    if (!(await which(tool))) {
      return `interop tests need '${tool}' (apt-get install ${toolPackage(tool)})`;
    }
  }
  try {
    await Deno.stat("/dev/net/tun");
  } catch {
    return "interop tests need /dev/net/tun";
  }
  return null;
}

function toolPackage(tool: string): string {
  return ({ ip: "iproute2", wg: "wireguard-tools", ping: "iputils-ping" } as Record<
    string,
    string
  >)[tool] ?? tool;
}

/** Whether a command is on PATH. */
export async function which(tool: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
    .output();
  return r.success;
}

/** Runs a command, returning stdout; throws with stderr on failure. */
export async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** A network namespace made for one test. */
export class Netns {
  readonly name: string;
  #wgIfaces: string[] = [];

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates a fresh namespace with loopback up. */
  static async create(prefix = "nwt"): Promise<Netns> {
    const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
    await run("ip", ["netns", "add", name]);
    const ns = new Netns(name);
    await ns.exec("ip", ["link", "set", "lo", "up"]);
    return ns;
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[], input?: string): Promise<string> {
    return run("ip", ["netns", "exec", this.name, cmd, ...args], input);
  }

  /** Starts a command inside the namespace with piped stdio. */
  spawn(cmd: string, args: string[], env?: Record<string, string>): Deno.ChildProcess {
    return new Deno.Command("ip", {
      args: ["netns", "exec", this.name, cmd, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      ...(env ? { env } : {}),
    }).spawn();
  }

  /**
   * Creates a wireguard-go interface in the namespace with the given private key, address and
   * MTU, and brings it up. Returns the interface name. Its control socket
   * (`/var/run/wireguard/<ifname>.sock`) is host-wide, not per namespace: test files run in
   * parallel, so each uses names of its own (a second `wgc0` elsewhere fails "UAPI listen error").
   */
  async addWireguardGo(
    ifname: string,
    opts: { privateKey: string; address: string[]; mtu?: number; listenPort?: number },
  ): Promise<string> {
    await this.exec("wireguard-go", [ifname]);
    this.#wgIfaces.push(ifname);
    await this.exec("wg", ["set", ifname, "private-key", "/dev/stdin"], opts.privateKey + "\n");
    if (opts.listenPort) await this.wg(["set", ifname, "listen-port", String(opts.listenPort)]);
    for (const a of opts.address) await this.exec("ip", ["address", "add", a, "dev", ifname]);
    await this.exec("ip", ["link", "set", ifname, "mtu", String(opts.mtu ?? 1420), "up"]);
    return ifname;
  }

  /** Joins this namespace to `other` with a veth pair, addressing both ends. */
  async linkTo(other: Netns, ownAddr: string, otherAddr: string): Promise<void> {
    const a = `v${crypto.randomUUID().slice(0, 6)}`, b = `v${crypto.randomUUID().slice(0, 6)}`;
    await this.exec("ip", ["link", "add", a, "type", "veth", "peer", "name", b]);
    await this.exec("ip", ["link", "set", b, "netns", other.name]);
    await this.exec("ip", ["address", "add", ownAddr, "dev", a]);
    await other.exec("ip", ["address", "add", otherAddr, "dev", b]);
    await this.exec("ip", ["link", "set", a, "up"]);
    await other.exec("ip", ["link", "set", b, "up"]);
  }

  /**
   * Adds target addresses on one end of a veth pair whose other end stays unaddressed (the
   * kernel here has no dummy interfaces): other addresses on the prefix blackhole.
   */
  async addDummy(name: string, addrs: string[]): Promise<void> {
    await this.exec("ip", ["link", "add", name, "type", "veth", "peer", "name", `${name}p`]);
    for (const a of addrs) await this.exec("ip", ["address", "add", a, "dev", name]);
    await this.exec("ip", ["link", "set", `${name}p`, "up"]);
    await this.exec("ip", ["link", "set", name, "up"]);
  }

  /** Runs `wg` in the namespace. */
  wg(args: string[]): Promise<string> {
    return this.exec("wg", args);
  }

  /** Removes the wireguard-go interfaces (their daemons exit) and the namespace. */
  async cleanup(): Promise<void> {
    for (const i of this.#wgIfaces) {
      await this.exec("ip", ["link", "del", i]).catch(() => {});
    }
    await run("ip", ["netns", "del", this.name]).catch(() => {});
  }
}

/** Polls `fn` until it returns a truthy value or `ms` pass (bounded wait). */
export async function waitFor<T>(fn: () => T | Promise<T>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
