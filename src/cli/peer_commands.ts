/**
 * `add-peer` and `remove-peer`: edit the server config's `[Peer]` sections in place (appending or
 * cutting text, so comments and the `[Proxy]` section survive), checked by a full re-parse
 * before the atomic write. A running proxy applies the change on SIGHUP.
 *
 * @module
 */
import { type Cidr, cidrOverlaps, formatCidr, parseCidr } from "../wire/ip_address.ts";
import { formatKey, KeyFormatError, parseKey } from "../wireguard/key_text.ts";
import { publicKey } from "../wireguard/keys.ts";
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
  parseCidrList,
  parseEndpointFlag,
  parseIpList,
  STATE_DIR_FLAG,
} from "./common_flags.ts";
import type { CliContext } from "./context.ts";
import { chooseEndpoint } from "./endpoint.ts";
import { CliError, UsageError } from "./errors.ts";
import { booleanFlag, type CommandSpec, listFlag, type ParsedFlags, stringFlag } from "./flags.ts";
import { printClientConfig } from "./output.ts";
import { isGranted } from "./permissions.ts";
import { dirOf, writeSecretFile } from "./secret_file.ts";
import { parseServerConfig } from "./server_config.ts";
import {
  clientName,
  configPathFor,
  DEFAULT_LISTEN_PORT,
  describeConfigError,
  loadConfigFile,
  newClient,
} from "./state.ts";
import { joinPath } from "./state_dir.ts";

/** `add-peer`'s flags and help. */
export const ADD_PEER_SPEC: CommandSpec = {
  name: "add-peer",
  summary:
    "Add a client: allocate its tunnel address, store its public key, print its config + QR.",
  details: `Edits the state dir's server.conf (or --config FILE). A running proxy picks the peer up
on SIGHUP (kill -HUP <pid>). Overlapping AllowedIPs are rejected.`,
  flags: [
    CONFIG_FLAG,
    STATE_DIR_FLAG,
    ENDPOINT_FLAG,
    DNS_FLAG,
    {
      name: "address",
      type: "string",
      multiple: true,
      value: "CIDR[,CIDR]",
      description: "the client's tunnel addresses (default: next free in each range)",
    },
    {
      name: "allowed-ips",
      type: "string",
      multiple: true,
      value: "CIDR[,CIDR]",
      description: "routes in the client's config (default 0.0.0.0/0, ::/0)",
    },
    {
      name: "public-key",
      type: "string",
      value: "KEY",
      description: "the client's own public key (no private key is generated or printed)",
    },
    KEEP_CLIENT_KEY_FLAG,
    NO_QR_FLAG,
  ],
};

/** `remove-peer`'s flags and help. */
export const REMOVE_PEER_SPEC: CommandSpec = {
  name: "remove-peer",
  summary: "Remove a peer by public key from the server config (applied on SIGHUP).",
  positionals: { names: "PUBLIC_KEY", min: 1, max: 1 },
  flags: [CONFIG_FLAG, STATE_DIR_FLAG],
};

function requireWrite(path: string): void {
  if (!isGranted({ name: "write", path })) {
    throw new CliError(`changing ${path} needs --allow-write=${path}`);
  }
}

function parseKeyFlag(text: string, command: string): Uint8Array {
  try {
    return parseKey(text);
  } catch (e) {
    if (e instanceof KeyFormatError) {
      throw new UsageError(`public key '${text}': ${e.message}`, command);
    }
    throw e;
  }
}

/** Appends a `[Peer]` block to config text. */
export function appendPeerText(
  text: string,
  peer: { publicKey: Uint8Array; presharedKey: Uint8Array; allowedIps: readonly Cidr[] },
): string {
  const base = text.endsWith("\n") || text === "" ? text : text + "\n";
  return base + [
    "",
    "[Peer]",
    `PublicKey = ${formatKey(peer.publicKey)}`,
    `PresharedKey = ${formatKey(peer.presharedKey)}`,
    `AllowedIPs = ${peer.allowedIps.map(formatCidr).join(", ")}`,
  ].join("\n") + "\n";
}

/** Cuts the `[Peer]` section starting at 1-based `headerLine` (up to the next section or the end). */
export function cutSectionText(text: string, headerLine: number): string {
  const lines = text.split("\n");
  let end = headerLine; // index of the line after the header
  while (end < lines.length && !(lines[end] as string).trim().startsWith("[")) end++;
  let start = headerLine - 1;
  while (start > 0 && (lines[start - 1] as string).trim() === "") start--; // blank lines before it
  const keptBefore = lines.slice(0, start);
  const rest = lines.slice(end);
  const joined = [
    ...keptBefore,
    ...(rest.length > 0 && keptBefore.length > 0 ? [""] : []),
    ...rest,
  ];
  return joined.join("\n").replace(/\n*$/, "\n");
}

/** Adds a peer; prints its config (and QR) to stdout. */
export async function addPeerCommand(flags: ParsedFlags, ctx: CliContext): Promise<number> {
  const cmd = ADD_PEER_SPEC.name;
  const configFlag = stringFlag(flags, "config");
  const stateDirFlag = stringFlag(flags, "state-dir");
  if (configFlag !== undefined && stateDirFlag !== undefined) {
    throw new UsageError("use either --config or --state-dir, not both", cmd);
  }
  const addressList = parseCidrList("address", listFlag(flags, "address"), cmd);
  const allowedIPs = parseCidrList("allowed-ips", listFlag(flags, "allowed-ips"), cmd, false);
  const dnsList = parseIpList("dns", listFlag(flags, "dns"), cmd);
  const keyText = stringFlag(flags, "public-key");
  const clientKey = keyText === undefined ? undefined : parseKeyFlag(keyText, cmd);
  const endpointText = stringFlag(flags, "endpoint");
  if (endpointText !== undefined) parseEndpointFlag(endpointText, 1, cmd);
  if (clientKey !== undefined && booleanFlag(flags, "keep-client-key")) {
    throw new UsageError("--keep-client-key needs a generated key; drop --public-key", cmd);
  }

  const path = configPathFor(configFlag, stateDirFlag);
  const loaded = await loadConfigFile(path);
  requireWrite(path);
  const wg = loaded.config.wg;
  let addresses: Cidr[] | undefined;
  if (addressList.length > 0) {
    addresses = addressList.map((a) => parseCidr(a, { allowBare: true }));
    for (const a of addresses) {
      const owner = wg.peers.find((p) => p.allowedIps.some((c) => cidrOverlaps(c, a)));
      if (owner !== undefined) {
        throw new CliError(
          `--address ${
            formatCidr(a)
          } overlaps the AllowedIPs of the peer on line ${owner.line} of ${path}`,
        );
      }
    }
  }
  let client;
  try {
    client = newClient(wg, {
      ...(clientKey ? { publicKey: clientKey } : {}),
      ...(addresses ? { addresses } : {}),
    });
  } catch (e) {
    throw new CliError(`${path}: ${(e as Error).message}`);
  }
  const nextText = appendPeerText(loaded.text, {
    publicKey: client.publicKey,
    presharedKey: client.presharedKey,
    allowedIps: client.addresses,
  });
  try {
    parseServerConfig(nextText);
  } catch (e) {
    throw describeConfigError(path, e);
  }
  await writeSecretFile(path, nextText);

  const port = wg.interface.listenPort ?? DEFAULT_LISTEN_PORT;
  const chosen = chooseEndpoint(
    port,
    endpointText === undefined ? undefined : parseEndpointFlag(endpointText, port, cmd),
    loaded.config.proxy.endpoint,
    ...(ctx.interfaces ? [ctx.interfaces] : []),
  );
  const clientText = formatClientConfig({
    privateKey: client.privateKey,
    addresses: client.addresses,
    dns: clientDns(dnsList, loaded.config.proxy, wg.interface.addresses),
    serverPublicKey: publicKey(wg.interface.privateKey),
    presharedKey: client.presharedKey,
    allowedIPs: allowedIPs.length > 0 ? allowedIPs : DEFAULT_CLIENT_ALLOWED_IPS,
    endpoint: chosen.endpoint,
    endpointSource: chosen.source,
    persistentKeepalive: DEFAULT_CLIENT_KEEPALIVE,
  });
  const name = clientName(client);
  let kept = "";
  if (booleanFlag(flags, "keep-client-key")) {
    const clientPath = joinPath(dirOf(path), `${name}.conf`);
    await writeSecretFile(clientPath, clientText);
    kept = `; client config kept in ${clientPath}`;
  }
  printClientConfig(ctx.io, clientText, {
    title: client.privateKey
      ? `${name}: import into WireGuard (printed once; its private key is not stored${
        kept ? " unless kept" : ""
      })`
      : `${name}: add your own PrivateKey`,
    qr: !booleanFlag(flags, "no-qr") && client.privateKey !== undefined,
  });
  ctx.io.err(
    `newt-proxy: added peer ${formatKey(client.publicKey)} (${
      client.addresses.map(formatCidr).join(", ")
    }) to ${path}${kept}; ` +
      `a running newt-proxy applies it on SIGHUP\n`,
  );
  return 0;
}

/** Removes a peer by public key. */
export async function removePeerCommand(flags: ParsedFlags, _ctx: CliContext): Promise<number> {
  const cmd = REMOVE_PEER_SPEC.name;
  const configFlag = stringFlag(flags, "config");
  const stateDirFlag = stringFlag(flags, "state-dir");
  if (configFlag !== undefined && stateDirFlag !== undefined) {
    throw new UsageError("use either --config or --state-dir, not both", cmd);
  }
  const key = parseKeyFlag(flags.positionals[0] as string, cmd);
  const path = configPathFor(configFlag, stateDirFlag);
  const loaded = await loadConfigFile(path);
  requireWrite(path);
  const keyText = formatKey(key);
  const peer = loaded.config.wg.peers.find((p) => formatKey(p.publicKey) === keyText);
  if (peer === undefined || peer.line === undefined) {
    throw new CliError(`${path}: no peer ${keyText}`);
  }
  const nextText = cutSectionText(loaded.text, peer.line);
  try {
    parseServerConfig(nextText);
  } catch (e) {
    throw describeConfigError(path, e);
  }
  await writeSecretFile(path, nextText);
  _ctx.io.err(
    `newt-proxy: removed peer ${keyText} from ${path}; a running newt-proxy applies it on SIGHUP\n`,
  );
  return 0;
}
