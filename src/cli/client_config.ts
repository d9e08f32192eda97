/**
 * The wg-quick config a client imports: its own key and tunnel address, the server as its one
 * peer (all traffic routed through the tunnel by default), and the proxy's addresses as DNS.
 *
 * @module
 */
import { type Cidr, formatCidr, formatIp } from "../wire/ip_address.ts";
import { formatKey } from "../wireguard/key_text.ts";

/** Host of the Endpoint placeholder: `.invalid` never resolves (RFC 2606). */
export const ENDPOINT_PLACEHOLDER_HOST = "EDIT-ME.invalid";

/** Where the Endpoint value came from. */
export type EndpointSource = "flag" | "config" | "interface" | "placeholder";

/** Everything in a client config. */
export interface ClientConfigInput {
  /** The client's private key; undefined for a client that brought its own key. */
  privateKey: Uint8Array | undefined;
  /** The client's tunnel addresses (full-length prefixes). */
  addresses: readonly Cidr[];
  /** DNS servers (IP text); empty = no DNS line. */
  dns: readonly string[];
  /** The server's public key. */
  serverPublicKey: Uint8Array;
  /** Preshared key. */
  presharedKey: Uint8Array | undefined;
  /** Routes through the tunnel. */
  allowedIPs: readonly string[];
  /** `host:port` of the server. */
  endpoint: string;
  /** How `endpoint` was found (a guess or a placeholder gets a comment saying so). */
  endpointSource: EndpointSource;
  /** PersistentKeepalive seconds (0 = none). */
  persistentKeepalive: number;
}

/** Default client routes: everything, both families. */
export const DEFAULT_CLIENT_ALLOWED_IPS: readonly string[] = ["0.0.0.0/0", "::/0"];
/** Default client keepalive: keeps NAT mappings on the client's side open. */
export const DEFAULT_CLIENT_KEEPALIVE = 25;

/** Renders the client's wg-quick text. */
export function formatClientConfig(c: ClientConfigInput): string {
  const lines = ["[Interface]"];
  if (c.privateKey !== undefined) lines.push(`PrivateKey = ${formatKey(c.privateKey)}`);
  else lines.push("# PrivateKey = (the client's own private key)");
  lines.push(`Address = ${c.addresses.map(formatCidr).join(", ")}`);
  if (c.dns.length > 0) lines.push(`DNS = ${c.dns.join(", ")}`);
  lines.push("", "[Peer]", `PublicKey = ${formatKey(c.serverPublicKey)}`);
  if (c.presharedKey !== undefined) lines.push(`PresharedKey = ${formatKey(c.presharedKey)}`);
  lines.push(`AllowedIPs = ${c.allowedIPs.join(", ")}`);
  if (c.endpointSource === "placeholder") {
    lines.push("# EDIT the next line: this server's public address or name (or use --endpoint)");
  } else if (c.endpointSource === "interface") {
    lines.push("# Endpoint guessed from a local interface; set --endpoint HOST:PORT if wrong");
  }
  lines.push(`Endpoint = ${c.endpoint}`);
  if (c.persistentKeepalive > 0) lines.push(`PersistentKeepalive = ${c.persistentKeepalive}`);
  return lines.join("\n") + "\n";
}

/** The server's tunnel addresses as DNS servers for clients (host part of each Address). */
export function serverDns(serverAddresses: readonly Cidr[]): string[] {
  return serverAddresses.map((a) => formatIp(a.addr));
}

/**
 * The `DNS =` of a printed client config: `--dns` if given, else `[Proxy] ClientDNS`, else the
 * server's own addresses when its built-in resolver runs, else none.
 */
export function clientDns(
  fromFlag: readonly string[] | undefined,
  proxy: { clientDns: string[] | undefined; dnsResolver: boolean },
  serverAddresses: readonly Cidr[],
): string[] {
  if (fromFlag && fromFlag.length > 0) return [...fromFlag];
  return proxy.clientDns ?? (proxy.dnsResolver ? serverDns(serverAddresses) : []);
}
