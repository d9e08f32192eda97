/**
 * The embedded default and config files on disk: where the state lives (or why it cannot, and
 * which permissions would fix that), reading a config file safely, and generating the first
 * server + client identity.
 *
 * Default tunnel: 10.88.0.0/24 and fd88:6e65:7774::/64 ("newt" in the ULA), server .1 / ::1,
 * first client .2 / ::2, UDP 51820.
 *
 * @module
 */
import { type Cidr, formatIp, parseCidr } from "../wire/ip_address.ts";
import { ConfigError, type PeerConfig, type WgConfig, writeConfig } from "../wireguard/config.ts";
import { generatePresharedKey, generatePrivateKey, publicKey } from "../wireguard/keys.ts";
import { allocateAddresses } from "./address_pool.ts";
import { CliError } from "./errors.ts";
import { isGranted } from "./permissions.ts";
import { exists, readSecretFile } from "./secret_file.ts";
import { parseServerConfig, type ServerConfig } from "./server_config.ts";
import { joinPath, resolveStateDir, SERVER_CONFIG_FILE, STATE_ENV_VARS } from "./state_dir.ts";

/** Default WireGuard UDP port. */
export const DEFAULT_LISTEN_PORT = 51820;
/** Default server tunnel addresses (host part = the server). */
export const DEFAULT_SERVER_ADDRESSES: readonly string[] = ["10.88.0.1/24", "fd88:6e65:7774::1/64"];

/** Where state is kept: a file, or memory (with the flags that would persist it). */
export type StateLocation =
  | { kind: "file"; dir: string; path: string; writable: boolean }
  | { kind: "memory"; hint: string };

/** Decides where the embedded default's state lives, from permissions alone (never prompts). */
export function locateState(stateDirFlag: string | undefined): StateLocation {
  const dir = resolveStateDir(stateDirFlag);
  if (dir === undefined) {
    return {
      kind: "memory",
      hint:
        `to keep it, run with --allow-env=${STATE_ENV_VARS.join(",")} --allow-read --allow-write` +
        ` (or --state-dir DIR --allow-read=DIR --allow-write=DIR)`,
    };
  }
  const readable = isGranted({ name: "read", path: dir });
  const writable = isGranted({ name: "write", path: dir });
  if (!readable) {
    return {
      kind: "memory",
      hint: `to keep it in ${dir}, run with --allow-read=${dir} --allow-write=${dir}`,
    };
  }
  return { kind: "file", dir, path: joinPath(dir, SERVER_CONFIG_FILE), writable };
}

/** The persistence hint for a file location that is readable but not writable. */
export function writeHint(loc: { dir: string }): string {
  return `to keep it in ${loc.dir}, run with --allow-read=${loc.dir} --allow-write=${loc.dir}`;
}

/** A config read from a file. */
export interface LoadedConfig {
  /** The file. */
  path: string;
  /** Its text as read. */
  text: string;
  /** Parsed and checked. */
  config: ServerConfig;
}

/** Prefixes config errors with the file name; keeps the line number. */
export function describeConfigError(path: string, e: unknown): CliError | unknown {
  if (e instanceof ConfigError) return new CliError(`${path}: ${e.message}`, { cause: e });
  return e;
}

/** Reads and parses a server config file (permission checked first, unsafe modes refused). */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  if (!isGranted({ name: "read", path })) {
    throw new CliError(`reading ${path} needs --allow-read=${path}`);
  }
  let text: string;
  try {
    text = await readSecretFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CliError(`${path}: no such file`);
    throw e;
  }
  try {
    return { path, text, config: parseServerConfig(text) };
  } catch (e) {
    throw describeConfigError(path, e);
  }
}

/** Whether the state's server config exists (false when the location is memory). */
export async function stateExists(loc: StateLocation): Promise<boolean> {
  return loc.kind === "file" && await exists(loc.path);
}

/** A newly created client: its keys (private key only in memory) and tunnel addresses. */
export interface NewClient {
  /** Client private key; undefined when the client brought its own public key. */
  privateKey: Uint8Array | undefined;
  /** Client public key. */
  publicKey: Uint8Array;
  /** Preshared key shared with the server. */
  presharedKey: Uint8Array;
  /** Tunnel addresses (full-length prefixes). */
  addresses: Cidr[];
}

/** Generates a client (keys + next free addresses) for a server config. */
export function newClient(wg: WgConfig, options: {
  publicKey?: Uint8Array;
  addresses?: Cidr[];
} = {}): NewClient {
  const privateKey = options.publicKey === undefined ? generatePrivateKey() : undefined;
  return {
    privateKey,
    publicKey: options.publicKey ?? publicKey(privateKey as Uint8Array),
    presharedKey: generatePresharedKey(),
    addresses: options.addresses ??
      allocateAddresses(wg.interface.addresses, wg.peers.flatMap((p) => p.allowedIps)),
  };
}

/** File-name stem for a client: `client-` and its first tunnel address. */
export function clientName(client: NewClient): string {
  const first = client.addresses[0];
  return first === undefined ? "client" : `client-${formatIp(first.addr).replaceAll(":", "-")}`;
}

/** The config file a command works on: `--config FILE`, else the state dir's server.conf. */
export function configPathFor(
  configFlag: string | undefined,
  stateDirFlag: string | undefined,
): string {
  if (configFlag !== undefined) return configFlag;
  const loc = locateState(stateDirFlag);
  if (loc.kind === "memory") {
    throw new CliError(
      `cannot locate or read the state dir: ${loc.hint.replace(/^to keep it/, "to use it")}`,
    );
  }
  return loc.path;
}

/** The `[Peer]` entry the server keeps for a client. */
export function clientPeerConfig(client: NewClient): PeerConfig {
  return {
    publicKey: client.publicKey,
    presharedKey: client.presharedKey,
    allowedIps: client.addresses,
    persistentKeepalive: 0,
  };
}

/** The first start's state: server config text and the one client created with it. */
export interface EmbeddedDefault {
  /** server.conf text. */
  text: string;
  /** Parsed form of `text`. */
  config: ServerConfig;
  /** The first client. */
  client: NewClient;
}

/** Header of a generated server.conf. */
export function stateHeader(): string {
  return [
    "# newt-proxy server config (wg-quick format + optional [Proxy] section).",
    "# Holds the server's private key: keep it mode 0600. Edit peers and send SIGHUP to reload.",
    "",
    "",
  ].join("\n");
}

/** Generates the embedded default: a server key, one client and its preshared key. */
export function createEmbeddedDefault(listenPort = DEFAULT_LISTEN_PORT): EmbeddedDefault {
  const wg: WgConfig = {
    interface: {
      privateKey: generatePrivateKey(),
      listenPort,
      addresses: DEFAULT_SERVER_ADDRESSES.map((a) => parseCidr(a, { mask: false })),
      dns: [],
      dnsSearch: [],
      preUp: [],
      postUp: [],
      preDown: [],
      postDown: [],
    },
    peers: [],
    sections: [],
    warnings: [],
  };
  const client = newClient(wg);
  wg.peers.push(clientPeerConfig(client));
  const text = stateHeader() + writeConfig(wg);
  return { text, config: parseServerConfig(text), client };
}
