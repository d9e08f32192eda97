/**
 * `newt-proxy show`: the server config as `wg show` lays it out (public keys, addresses, listen
 * port; secrets hidden), with live figures — last handshake, transfer, flows — scraped from a
 * running instance's metrics endpoint (`--metrics HOST:PORT`, or the config's `Metrics`).
 *
 * @module
 */
import { formatCidr } from "../wire/ip_address.ts";
import { formatKey } from "../wireguard/key_text.ts";
import { publicKey } from "../wireguard/keys.ts";
import { CONFIG_FLAG, STATE_DIR_FLAG } from "./common_flags.ts";
import type { CliContext } from "./context.ts";
import { CliError, UsageError } from "./errors.ts";
import type { CommandSpec, ParsedFlags } from "./flags.ts";
import { stringFlag } from "./flags.ts";
import { isGranted } from "./permissions.ts";
import { parseExposition, sampleValue, type Scrape } from "./prometheus_text.ts";
import { type ListenAddress, parseListenAddress } from "./proxy_section.ts";
import { configPathFor, DEFAULT_LISTEN_PORT, loadConfigFile } from "./state.ts";

/** `show`'s flags and help. */
export const SHOW_SPEC: CommandSpec = {
  name: "show",
  summary: "Show the interface and peers (like `wg show`), live figures from a running instance.",
  flags: [
    CONFIG_FLAG,
    STATE_DIR_FLAG,
    {
      name: "metrics",
      type: "string",
      value: "HOST:PORT",
      description: "a running instance's metrics address (default: the config's Metrics)",
    },
  ],
};

/** "1 hour, 2 minutes, 3 seconds" as `wg show` prints ages. */
export function formatAge(seconds: number): string {
  if (seconds < 1) return "Now";
  const parts: string[] = [];
  const units: Array<[string, number]> = [["day", 86_400], ["hour", 3_600], ["minute", 60], [
    "second",
    1,
  ]];
  let left = Math.floor(seconds);
  for (const [name, size] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? "" : "s"}`);
  }
  return parts.join(", ");
}

/**
 * A peer's live lines in `show` (key as in the config, now in Unix seconds): latest handshake,
 * transfer, and — when messages went missing — inbound loss from the counter gaps.
 */
export function livePeerLines(figures: Scrape, key: string, now: number): string[] {
  const get = (name: string) => sampleValue(figures, name, { public_key: key });
  const hs = get("newt_peer_last_handshake_seconds");
  if (hs === undefined) return ["  (not in the running instance: send it SIGHUP)"];
  const lines: string[] = [];
  if (hs > 0) lines.push(`  latest handshake: ${formatAge(now - hs)} ago`);
  const rx = get("newt_peer_receive_bytes_total") ?? 0;
  const tx = get("newt_peer_transmit_bytes_total") ?? 0;
  if (rx > 0 || tx > 0) {
    lines.push(`  transfer: ${formatBytes(rx)} received, ${formatBytes(tx)} sent`);
  }
  const lost = (get("newt_peer_receive_gaps_total") ?? 0) -
    (get("newt_peer_receive_late_total") ?? 0);
  if (lost > 0) {
    const sent = lost + (get("newt_peer_receive_messages_total") ?? 0);
    const pct = (100 * lost / sent).toFixed(lost * 1000 < sent ? 2 : 1);
    lines.push(`  inbound loss: ${lost} of ${sent} messages (${pct}%; path or this host's socket)`);
  }
  return lines;
}

/** "1.50 KiB" as `wg show` prints byte counts. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

async function scrape(addr: ListenAddress): Promise<Scrape | string> {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
  if (!isGranted({ name: "net", host })) return `live figures need --allow-net=${host}`;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 3_000);
  try {
    const res = await fetch(`http://${host}/metrics`, { signal: ctrl.signal });
    if (!res.ok) {
      await res.body?.cancel();
      return `metrics at ${host} answered ${res.status}`;
    }
    return parseExposition(await res.text());
  } catch (e) {
    return `no running instance at ${host} (${e instanceof Error ? e.message : e})`;
  } finally {
    clearTimeout(timer);
  }
}

/** Prints the static view and, when reachable, live figures. */
export async function showCommand(flags: ParsedFlags, ctx: CliContext): Promise<number> {
  const configFlag = stringFlag(flags, "config");
  const stateDirFlag = stringFlag(flags, "state-dir");
  if (configFlag !== undefined && stateDirFlag !== undefined) {
    throw new UsageError("use either --config or --state-dir, not both", SHOW_SPEC.name);
  }
  const metricsText = stringFlag(flags, "metrics");
  let metricsAddr: ListenAddress | undefined;
  if (metricsText !== undefined) {
    try {
      metricsAddr = parseListenAddress(metricsText);
    } catch (e) {
      throw new UsageError(`--metrics: ${(e as Error).message}`, SHOW_SPEC.name);
    }
  }
  const path = configPathFor(configFlag, stateDirFlag);
  let loaded;
  try {
    loaded = await loadConfigFile(path);
  } catch (e) {
    if (e instanceof CliError && e.message.endsWith("no such file") && configFlag === undefined) {
      throw new CliError(`no state in ${path} yet: start the proxy once (newt-proxy run)`);
    }
    throw e;
  }
  const { wg, proxy } = loaded.config;
  metricsAddr ??= proxy.metrics;
  const live = metricsAddr ? await scrape(metricsAddr) : undefined;
  const figures = typeof live === "object" ? live : undefined;

  const lines = [
    `interface: newt-proxy`,
    `  config: ${path}`,
    `  public key: ${formatKey(publicKey(wg.interface.privateKey))}`,
    `  private key: (hidden)`,
    `  listening port: ${wg.interface.listenPort ?? DEFAULT_LISTEN_PORT}`,
    `  addresses: ${wg.interface.addresses.map(formatCidr).join(", ")}`,
  ];
  if (figures) {
    const active = figures.samples.filter((s) => s.name === "newt_flows_active").reduce(
      (a, s) => a + s.value,
      0,
    );
    lines.push(`  handshakes: ${sampleValue(figures, "newt_handshakes_total") ?? 0}`);
    if (figures.types.has("newt_flows_active")) lines.push(`  flows: ${active} active`);
  } else if (typeof live === "string") {
    lines.push(`  live: ${live}`);
  }
  const now = Date.now() / 1000;
  for (const peer of wg.peers) {
    const key = formatKey(peer.publicKey);
    lines.push("", `peer: ${key}`);
    if (peer.presharedKey) lines.push("  preshared key: (hidden)");
    if (peer.endpoint) lines.push(`  endpoint: ${peer.endpoint.host}:${peer.endpoint.port}`);
    lines.push(`  allowed ips: ${peer.allowedIps.map(formatCidr).join(", ") || "(none)"}`);
    if (figures) lines.push(...livePeerLines(figures, key, now));
    if (peer.persistentKeepalive > 0) {
      lines.push(`  persistent keepalive: every ${peer.persistentKeepalive} seconds`);
    }
  }
  ctx.io.out(lines.join("\n") + "\n");
  return 0;
}
