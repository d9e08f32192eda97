/**
 * `newt-proxy run` (the default command): load the config — a `--config` file, the state dir, or
 * a freshly generated embedded default — start the server, print a new client's config once,
 * serve metrics, reload peers on SIGHUP, and on SIGINT/SIGTERM stop accepting, drain for a
 * bounded time and return 0.
 *
 * @module
 */
import { getLogger, type Logger } from "../log.ts";
import type { ServerHandle } from "../server.ts";
import { formatCidr } from "../wire/ip_address.ts";
import { parseKey } from "../wireguard/key_text.ts";
import { encodeKey, publicKey } from "../wireguard/keys.ts";
import {
  clientDns,
  DEFAULT_CLIENT_ALLOWED_IPS,
  DEFAULT_CLIENT_KEEPALIVE,
  formatClientConfig,
} from "./client_config.ts";
import {
  CONFIG_FLAG,
  DNS_FLAG,
  ENDPOINT_FLAG,
  KEEP_CLIENT_KEY_FLAG,
  NO_QR_FLAG,
  parseEndpointFlag,
  parseIpList,
  parsePortFlag,
  STATE_DIR_FLAG,
} from "./common_flags.ts";
import type { CliContext } from "./context.ts";
import { DurationError, formatDuration, parseDuration } from "./duration.ts";
import { chooseEndpoint } from "./endpoint.ts";
import { CliError, UsageError } from "./errors.ts";
import { booleanFlag, type CommandSpec, listFlag, type ParsedFlags, stringFlag } from "./flags.ts";
import { setupLogging } from "./logging.ts";
import { type MetricsServer, renderMetrics, serveMetrics } from "./metrics.ts";
import { printClientConfig } from "./output.ts";
import {
  dnsResolverOption,
  type FlowOptions,
  flowProxyOptions,
  transportOptions,
} from "./proxy_wiring.ts";
import {
  type ListenAddress,
  parseListenAddress,
  parseLogLevel,
  type ProxyOptions,
} from "./proxy_section.ts";
import { ensureSecretDir, writeSecretFile } from "./secret_file.ts";
import { diffPeers, type ServerConfig, toPeerOptions } from "./server_config.ts";
import { delay, watchSignals } from "./signals.ts";
import {
  clientName,
  createEmbeddedDefault,
  DEFAULT_LISTEN_PORT,
  type EmbeddedDefault,
  loadConfigFile,
  locateState,
  stateExists,
  type StateLocation,
  writeHint,
} from "./state.ts";
import { joinPath } from "./state_dir.ts";

/** `run`'s flags and help. */
export const RUN_SPEC: CommandSpec = {
  name: "run",
  summary: "Run the proxy (the default command).",
  details: `Without --config, the first start creates the state dir, generates the server key, one
client and a preshared key, and prints the client's config and QR code (the client's private key
is not stored unless --keep-client-key). Later starts reuse the state. Without read/write
permission the state lives in memory and a line says which permissions would keep it.
SIGHUP reloads peers and the [Proxy] rules, limits and timeouts from the config file;
SIGINT/SIGTERM drain flows and exit 0.`,
  flags: [
    CONFIG_FLAG,
    STATE_DIR_FLAG,
    {
      name: "listen-port",
      type: "string",
      value: "PORT",
      description: "WireGuard UDP port (default 51820; 0 = any)",
    },
    {
      name: "listen-address",
      type: "string",
      value: "ADDR",
      description: "address to bind (default :: and 0.0.0.0)",
    },
    ENDPOINT_FLAG,
    DNS_FLAG,
    KEEP_CLIENT_KEY_FLAG,
    NO_QR_FLAG,
    {
      name: "metrics",
      type: "string",
      value: "HOST:PORT",
      description: "serve Prometheus metrics at http://HOST:PORT/metrics ('off' to disable)",
    },
    {
      name: "log-level",
      type: "string",
      value: "LEVEL",
      description: "debug, info, warn, error or critical (default info)",
    },
    {
      name: "log-format",
      type: "string",
      value: "FORMAT",
      description: "text or json (default text)",
    },
    { name: "no-flow-log", type: "boolean", description: "do not log one line per flow" },
    {
      name: "no-udp-worker",
      type: "boolean",
      description: "WireGuard socket on the main thread: faster connection set-up, less throughput",
    },
    {
      name: "no-direct-send",
      type: "boolean",
      description: "keep the WireGuard port exclusive: every datagram goes through the UDP Worker",
    },
    {
      name: "tcp-timestamps",
      type: "boolean",
      description: "TCP timestamps for peers that offer them (the default; overrides the config)",
    },
    {
      name: "no-tcp-timestamps",
      type: "boolean",
      description:
        "no TCP timestamps: clients' ports stay in TIME_WAIT longer, 12 bytes a segment less",
    },
    {
      name: "udp-ffi",
      type: "boolean",
      description:
        "WireGuard socket on libc via FFI: 4 MiB buffers, batched syscalls (--allow-ffi)",
    },
    {
      name: "accept-before-dial",
      type: "boolean",
      description: "answer SYNs to targets reached in the last 30s before dialing them",
    },
    {
      name: "drain-timeout",
      type: "string",
      value: "DURATION",
      description: "how long flows may finish on stop (default 10s)",
    },
  ],
};

/** `[Proxy]` settings of the running socket and stack: a SIGHUP reload keeps them (field, key). */
const RESTART_ONLY = [
  ["udpWorker", "UdpWorker"],
  ["directSend", "DirectSend"],
  ["longPathDirect", "LongPathDirect"],
  ["udpBackend", "UdpBackend"],
  ["tcpTimestamps", "TcpTimestamps"],
] as const;
type RestartOnlyField = (typeof RESTART_ONLY)[number][0];

/** The restart-only settings of `o` (RESTART_ONLY). */
function restartOnly(o: ProxyOptions): Pick<ProxyOptions, RestartOnlyField> {
  const kept = RESTART_ONLY.map(([field]) => [field, o[field]]);
  return Object.fromEntries(kept) as Pick<ProxyOptions, RestartOnlyField>;
}

/** Flag values of `run`, validated. */
interface RunFlags {
  configPath: string | undefined;
  stateDir: string | undefined;
  listenPort: number | undefined;
  listenAddress: string | undefined;
  endpoint: string | undefined;
  dns: string[] | undefined;
  keepClientKey: boolean;
  qr: boolean;
  overrides: Partial<ProxyOptions>;
  metricsOff: boolean;
}

function readRunFlags(flags: ParsedFlags): RunFlags {
  const cmd = RUN_SPEC.name;
  const configPath = stringFlag(flags, "config");
  const stateDir = stringFlag(flags, "state-dir");
  if (configPath !== undefined && stateDir !== undefined) {
    throw new UsageError("use either --config or --state-dir, not both", cmd);
  }
  const portText = stringFlag(flags, "listen-port");
  const listenPort = portText === undefined
    ? undefined
    : parsePortFlag("listen-port", portText, cmd);
  const overrides: Partial<ProxyOptions> = {};
  const level = stringFlag(flags, "log-level");
  if (level !== undefined) {
    const parsed = parseLogLevel(level);
    if (parsed === undefined) {
      throw new UsageError(`--log-level '${level}': use debug, info, warn, error or critical`, cmd);
    }
    overrides.logLevel = parsed;
  }
  const format = stringFlag(flags, "log-format");
  if (format !== undefined) {
    if (format !== "text" && format !== "json") {
      throw new UsageError(`--log-format '${format}': use text or json`, cmd);
    }
    overrides.logFormat = format;
  }
  if (booleanFlag(flags, "no-flow-log")) overrides.flowLog = false;
  if (booleanFlag(flags, "accept-before-dial")) overrides.acceptBeforeDial = true;
  if (booleanFlag(flags, "no-udp-worker")) overrides.udpWorker = false;
  if (booleanFlag(flags, "no-direct-send")) overrides.directSend = false;
  if (booleanFlag(flags, "tcp-timestamps") && booleanFlag(flags, "no-tcp-timestamps")) {
    throw new UsageError("use either --tcp-timestamps or --no-tcp-timestamps, not both", cmd);
  }
  if (booleanFlag(flags, "tcp-timestamps")) overrides.tcpTimestamps = true;
  if (booleanFlag(flags, "no-tcp-timestamps")) overrides.tcpTimestamps = false;
  if (booleanFlag(flags, "udp-ffi")) overrides.udpBackend = "ffi";
  const metrics = stringFlag(flags, "metrics");
  const metricsOff = metrics?.toLowerCase() === "off";
  if (metrics !== undefined && !metricsOff) {
    try {
      overrides.metrics = parseListenAddress(metrics);
    } catch (e) {
      throw new UsageError(`--metrics: ${(e as Error).message}`, cmd);
    }
  }
  const drain = stringFlag(flags, "drain-timeout");
  if (drain !== undefined) {
    try {
      overrides.drainTimeoutMs = parseDuration(drain, 0, 600_000);
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      throw new UsageError(`--drain-timeout: ${e.message}`, cmd);
    }
  }
  const endpoint = stringFlag(flags, "endpoint");
  const dns = listFlag(flags, "dns");
  return {
    configPath,
    stateDir,
    listenPort,
    listenAddress: stringFlag(flags, "listen-address"),
    // A bare host gets its port once the listen port is known; validate the text now.
    endpoint: endpoint === undefined ? undefined : (parseEndpointFlag(endpoint, 1, cmd), endpoint),
    dns: dns.length > 0 ? parseIpList("dns", dns, cmd) : undefined,
    keepClientKey: booleanFlag(flags, "keep-client-key"),
    qr: !booleanFlag(flags, "no-qr"),
    overrides,
    metricsOff,
  };
}

/** Where the running config came from. */
interface Source {
  config: ServerConfig;
  /** File to reload on SIGHUP (undefined = memory). */
  path: string | undefined;
  /** Set when this start generated the embedded default. */
  created: EmbeddedDefault | undefined;
  location: StateLocation | undefined;
}

async function loadSource(f: RunFlags): Promise<Source> {
  if (f.configPath !== undefined) {
    const loaded = await loadConfigFile(f.configPath);
    return { config: loaded.config, path: loaded.path, created: undefined, location: undefined };
  }
  const location = locateState(f.stateDir);
  if (await stateExists(location) && location.kind === "file") {
    const loaded = await loadConfigFile(location.path);
    return { config: loaded.config, path: loaded.path, created: undefined, location };
  }
  // A one-off port (0 = any) is not worth keeping in the state.
  const created = createEmbeddedDefault(f.listenPort || DEFAULT_LISTEN_PORT);
  return { config: created.config, path: undefined, created, location };
}

/** Writes a new embedded default to the state dir; returns the note for stderr. */
async function persist(
  src: Source,
  f: RunFlags,
  clientText: string,
  clientName: string,
): Promise<string> {
  const loc = src.location;
  const created = src.created as EmbeddedDefault;
  if (loc === undefined || loc.kind === "memory") {
    return `state is in memory only (keys are lost on exit); ${
      loc?.kind === "memory" ? loc.hint : ""
    }`;
  }
  if (!loc.writable) return `state is in memory only (keys are lost on exit); ${writeHint(loc)}`;
  await ensureSecretDir(loc.dir);
  await writeSecretFile(loc.path, created.text);
  src.path = loc.path;
  let note = `state created in ${loc.dir} (server.conf, mode 0600)`;
  if (f.keepClientKey) {
    const clientPath = joinPath(loc.dir, `${clientName}.conf`);
    await writeSecretFile(clientPath, clientText);
    note += `; client config kept in ${clientPath}`;
  }
  return note;
}

function effectiveOptions(config: ServerConfig, f: RunFlags): ProxyOptions {
  const o: ProxyOptions = { ...config.proxy, ...f.overrides };
  if (f.metricsOff) o.metrics = undefined;
  return o;
}

async function startOrExplain(
  ctx: CliContext,
  src: Source,
  f: RunFlags,
  log: Logger,
  options: ProxyOptions,
  proxy: FlowOptions,
): Promise<ServerHandle> {
  const iface = src.config.wg.interface;
  const port = f.listenPort ?? iface.listenPort ?? DEFAULT_LISTEN_PORT;
  try {
    return await ctx.startServer({
      privateKey: iface.privateKey,
      listenPort: port,
      ...(f.listenAddress !== undefined ? { listenHostname: f.listenAddress } : {}),
      addresses: iface.addresses.map(formatCidr),
      ...(iface.mtu !== undefined ? { mtu: iface.mtu } : {}),
      peers: src.config.wg.peers.map(toPeerOptions),
      proxy,
      dnsResolver: dnsResolverOption(options),
      ...transportOptions(options),
      logger: log,
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `UDP port ${port} is in use (another WireGuard or newt-proxy?); try --listen-port`,
      );
    }
    if (e instanceof Deno.errors.NotCapable && options.udpBackend === "ffi") {
      throw new CliError(
        "--udp-ffi (UdpBackend = ffi) needs --allow-ffi as well, which gives the process every " +
          'permission (README, "Permissions and security")',
      );
    }
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new CliError(
        `listening on UDP port ${port} needs --allow-net (${(e as Error).message})`,
      );
    }
    throw e;
  }
}

/** Applies the config file's peers to the running server (SIGHUP). */
async function reloadPeers(handle: ServerHandle, src: Source, log: Logger): Promise<void> {
  if (src.path === undefined) {
    log.warn("SIGHUP: nothing to reload, the state is in memory");
    return;
  }
  try {
    const next = await loadConfigFile(src.path);
    const diff = diffPeers(src.config.wg.peers, next.config.wg.peers);
    for (const key of diff.remove) handle.removePeer(parseKey(key));
    for (const peer of diff.add) handle.addPeer(toPeerOptions(peer));
    const oldIface = src.config.wg.interface;
    const newIface = next.config.wg.interface;
    if (
      encodeKey(oldIface.privateKey) !== encodeKey(newIface.privateKey) ||
      oldIface.listenPort !== newIface.listenPort
    ) {
      log.warn("SIGHUP: PrivateKey and ListenPort changes take effect on restart only");
    }
    // Rules, timeouts and limits apply to new flows at once; open flows keep theirs.
    const proxy = next.config.proxy;
    const running = src.config.proxy;
    for (const [field, key] of RESTART_ONLY) {
      if (proxy[field] !== running[field]) {
        log.warn(`SIGHUP: ${key} changes take effect on restart only`);
      }
    }
    const flow = flowProxyOptions(proxy);
    handle.net.proxy.policy.setRules(proxy.rules);
    handle.setTimeouts({
      tcpConnectTimeoutMs: proxy.tcpConnectTimeoutMs,
      tcpIdleTimeoutMs: proxy.tcpIdleTimeoutMs,
      udpIdleTimeoutMs: proxy.udpIdleTimeoutMs,
    });
    handle.net.proxy.admission.setLimits(flow.limits ?? {});
    handle.net.proxy.stats.flowLog = proxy.flowLog;
    handle.net.proxy.acceptBeforeDial = proxy.acceptBeforeDial;
    src.config = {
      wg: { ...next.config.wg, interface: oldIface },
      // the running socket's
      proxy: { ...proxy, ...restartOnly(running) },
    };
    log.info("peers reloaded", {
      path: src.path,
      added: diff.add.length,
      removed: diff.remove.length,
      peers: next.config.wg.peers.length,
    });
  } catch (e) {
    log.error("SIGHUP: reload failed, running peers unchanged", {
      error: e instanceof Error ? e.message : String(e),
    });
  }
}

/** Runs the proxy until stopped; returns the exit code. */
export async function runCommand(flags: ParsedFlags, ctx: CliContext): Promise<number> {
  const f = readRunFlags(flags);
  const src = await loadSource(f);
  const options = effectiveOptions(src.config, f);
  setupLogging({
    level: options.logLevel,
    format: options.logFormat,
    ...(ctx.logHandler ? { handler: ctx.logHandler } : {}),
  });
  const log = getLogger("newt");
  for (const w of src.config.wg.warnings) {
    log.warn("config", { path: src.path, warning: w.message });
  }

  // Metrics listen first, so the proxy knows the port to refuse; scrapes before the start see 503.
  let handle: ServerHandle | undefined;
  const metrics = options.metrics === undefined
    ? undefined
    : await serveMetrics(options.metrics, () => {
      if (handle === undefined) throw new Error("starting");
      return renderMetrics(handle.stats());
    });
  try {
    handle = await startOrExplain(
      ctx,
      src,
      f,
      log,
      options,
      flowProxyOptions(options, metrics ? [metrics.addr.port] : []),
    );
  } catch (e) {
    await metrics?.close();
    throw e;
  }
  return await serve(ctx, src, f, options, handle, metrics, log);
}

async function serve(
  ctx: CliContext,
  src: Source,
  f: RunFlags,
  options: ProxyOptions,
  handle: ServerHandle,
  metrics: MetricsServer | undefined,
  log: Logger,
): Promise<number> {
  const watch = watchSignals(() => void reloadPeers(handle, src, log), ctx.signal);
  try {
    if (src.created !== undefined) {
      const port = handle.listenPort;
      const client = src.created.client;
      const chosen = chooseEndpoint(
        port,
        f.endpoint === undefined ? undefined : parseEndpointFlag(f.endpoint, port, RUN_SPEC.name),
        options.endpoint,
        ...(ctx.interfaces ? [ctx.interfaces] : []),
      );
      const clientText = formatClientConfig({
        privateKey: client.privateKey,
        addresses: client.addresses,
        dns: clientDns(f.dns, options, src.config.wg.interface.addresses),
        serverPublicKey: publicKey(src.config.wg.interface.privateKey),
        presharedKey: client.presharedKey,
        allowedIPs: DEFAULT_CLIENT_ALLOWED_IPS,
        endpoint: chosen.endpoint,
        endpointSource: chosen.source,
        persistentKeepalive: DEFAULT_CLIENT_KEEPALIVE,
      });
      const name = clientName(client);
      const note = await persist(src, f, clientText, name);
      printClientConfig(ctx.io, clientText, {
        title: `${name}: import into WireGuard (printed once; its private key is not stored${
          f.keepClientKey ? " unless kept" : ""
        })`,
        qr: f.qr,
      });
      ctx.io.err(`newt-proxy: ${note}\n`);
    }
    log.info("ready", {
      port: handle.listenPort,
      publicKey: encodeKey(publicKey(src.config.wg.interface.privateKey)),
      peers: src.config.wg.peers.length,
      config: src.path ?? "memory",
      ...(metrics ? { metrics: `http://${hostPort(metrics.addr)}/metrics` } : {}),
    });
    ctx.onReady?.({
      listenPort: handle.listenPort,
      metrics: metrics?.addr,
      configPath: src.path,
      handle,
    });

    const why = await Promise.race([watch.stopped, handle.failed.then(() => "netstack-failure")]);
    if (why === "netstack-failure") {
      await handle.close(0);
      return 1;
    }
    const drainMs = options.drainTimeoutMs;
    log.info("stopping", { signal: why, drain: formatDuration(drainMs) });
    const timer = delay(drainMs + 2_000);
    const outcome = await Promise.race([
      handle.close(drainMs).then(() => "closed" as const),
      timer.promise,
      watch.forced.then(() => "forced" as const),
    ]);
    timer.cancel();
    if (outcome !== "closed") {
      log.warn("stopped without waiting for all flows", { reason: outcome });
    }
    log.info("stopped");
    return 0;
  } catch (e) {
    await handle.close(0).catch(() => {});
    throw e;
  } finally {
    watch.dispose();
    await metrics?.close().catch(() => {});
  }
}

function hostPort(a: ListenAddress): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}
