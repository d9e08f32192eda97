/**
 * The Endpoint written into client configs: `--endpoint`, else `[Proxy] Endpoint`, else the first
 * non-loopback, non-link-local interface address (only when `--allow-sys=networkInterfaces`
 * grants it — never prompted for), else a placeholder the user must edit.
 *
 * @module
 */
import { formatHostPort } from "../wire/ip_address.ts";
import { ENDPOINT_PLACEHOLDER_HOST, type EndpointSource } from "./client_config.ts";
import { isGranted } from "./permissions.ts";

/** An Endpoint value and where it came from. */
export interface ChosenEndpoint {
  /** `host:port`. */
  endpoint: string;
  /** Its origin. */
  source: EndpointSource;
}

/** A network interface as `Deno.networkInterfaces()` lists it (the fields used here). */
export interface InterfaceAddress {
  /** `IPv4` or `IPv6`. */
  family: "IPv4" | "IPv6";
  /** Address text. */
  address: string;
}

/** The best public-looking address: IPv4 first, then global IPv6; loopback and link-local skipped. */
export function pickInterfaceAddress(list: readonly InterfaceAddress[]): string | undefined {
  const v4 = list.find((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.") && !i.address.startsWith("169.254.")
  );
  if (v4 !== undefined) return v4.address;
  const v6 = list.find((i) => {
    const a = i.address.toLowerCase();
    return i.family === "IPv6" && a !== "::1" && !/^fe[89ab]/.test(a) && !a.includes("%");
  });
  return v6?.address;
}

function interfaceAddresses(): InterfaceAddress[] {
  if (!isGranted({ name: "sys", kind: "networkInterfaces" })) return [];
  try {
    return Deno.networkInterfaces();
  } catch {
    return [];
  }
}

/** Chooses the Endpoint for client configs of a server listening on `port`. */
export function chooseEndpoint(
  port: number,
  flag: string | undefined,
  configured: string | undefined,
  list: readonly InterfaceAddress[] = interfaceAddresses(),
): ChosenEndpoint {
  if (flag !== undefined) return { endpoint: flag, source: "flag" };
  if (configured !== undefined) return { endpoint: configured, source: "config" };
  const guess = pickInterfaceAddress(list);
  if (guess !== undefined) return { endpoint: formatHostPort(guess, port), source: "interface" };
  return { endpoint: `${ENDPOINT_PLACEHOLDER_HOST}:${port}`, source: "placeholder" };
}
