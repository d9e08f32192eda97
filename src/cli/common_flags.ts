/**
 * Flags shared by several commands, and their validation into typed values (each mistake a
 * one-line {@link UsageError}).
 *
 * @module
 */
import {
  formatHostPort,
  IpParseError,
  parseCidr,
  parseHostPort,
  tryParseIp,
} from "../wire/ip_address.ts";
import { UsageError } from "./errors.ts";
import type { FlagSpec } from "./flags.ts";

/** `--config FILE`. */
export const CONFIG_FLAG: FlagSpec = {
  name: "config",
  short: "c",
  type: "string",
  value: "FILE",
  description: "wg-quick server config (+ optional [Proxy] section) instead of the state dir",
};
/** `--state-dir DIR`. */
export const STATE_DIR_FLAG: FlagSpec = {
  name: "state-dir",
  type: "string",
  value: "DIR",
  description:
    "state directory (default $NEWT_STATE_DIR, $XDG_STATE_HOME/newt-proxy, ~/.local/state/newt-proxy)",
};
/** `--endpoint HOST[:PORT]`. */
export const ENDPOINT_FLAG: FlagSpec = {
  name: "endpoint",
  type: "string",
  value: "HOST[:PORT]",
  description: "this server's public address, written into client configs",
};
/** `--no-qr`. */
export const NO_QR_FLAG: FlagSpec = {
  name: "no-qr",
  type: "boolean",
  description: "print client configs without a QR code",
};
/** `--keep-client-key`. */
export const KEEP_CLIENT_KEY_FLAG: FlagSpec = {
  name: "keep-client-key",
  type: "boolean",
  description: "also store the client's config (with its private key) in the state dir, mode 0600",
};
/** `--dns LIST`. */
export const DNS_FLAG: FlagSpec = {
  name: "dns",
  type: "string",
  multiple: true,
  value: "IP[,IP]",
  description: "DNS servers in client configs (default: the proxy's tunnel addresses)",
};

/** Validates `--endpoint`: `host:port`, `[v6]:port`, or a bare host/IP (then `port` is used). */
export function parseEndpointFlag(text: string, port: number, command: string): string {
  const bare = text.replace(/^\[(.*)\]$/, "$1");
  const ip = tryParseIp(bare);
  if (ip !== undefined) return formatHostPort(ip, port);
  try {
    const hp = parseHostPort(text);
    if (hp.port === 0) throw new UsageError(`--endpoint '${text}': port must be 1-65535`, command);
    return formatHostPort(hp.host, hp.port);
  } catch (e) {
    if (!(e instanceof IpParseError)) throw e;
    if (!text.includes(":") && /^[A-Za-z0-9_.-]+$/.test(text)) return `${text}:${port}`;
    throw new UsageError(`--endpoint '${text}': ${e.reason}`, command);
  }
}

/** Validates a port flag (0-65535). */
export function parsePortFlag(name: string, text: string, command: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`--${name} '${text}' is not a port number 0-65535`, command);
  }
  return Number(text);
}

/** Validates a list of IP addresses (`--dns`). */
export function parseIpList(name: string, list: string[], command: string): string[] {
  for (const item of list) {
    if (tryParseIp(item) === undefined) {
      throw new UsageError(`--${name} '${item}' is not an IP address`, command);
    }
  }
  return list;
}

/** Validates a list of prefixes (`--allowed-ips`, `--address`). */
export function parseCidrList(
  name: string,
  list: string[],
  command: string,
  bare = true,
): string[] {
  for (const item of list) {
    try {
      parseCidr(item, { allowBare: bare });
    } catch (e) {
      if (!(e instanceof IpParseError)) throw e;
      throw new UsageError(`--${name} '${item}': ${e.reason}`, command);
    }
  }
  return list;
}
