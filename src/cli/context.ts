/**
 * What a CLI invocation runs against: its streams, the server starter, and hooks for tests and
 * embedding. `main(args)` fills in the real ones.
 *
 * @module
 */
import type { BaseHandler } from "../log.ts";
import type { ServerHandle, ServerOptions } from "../server.ts";
import type { InterfaceAddress } from "./endpoint.ts";
import type { CliIo } from "./io.ts";
import type { ListenAddress } from "./proxy_section.ts";

/** Reported once `run` is serving. */
export interface ReadyInfo {
  /** The UDP port WireGuard listens on. */
  listenPort: number;
  /** Where metrics are served, if enabled. */
  metrics: ListenAddress | undefined;
  /** The config file in use (undefined = in memory). */
  configPath: string | undefined;
  /** The running server. */
  handle: ServerHandle;
}

/** The environment of one CLI invocation. */
export interface CliContext {
  /** Streams. */
  io: CliIo;
  /** Starts the server (src/server.ts `startServer`). */
  startServer: (options: ServerOptions) => Promise<ServerHandle>;
  /** Aborting it stops `run` like SIGTERM. */
  signal?: AbortSignal;
  /** Called once `run` is serving. */
  onReady?: (info: ReadyInfo) => void;
  /** Log destination instead of stderr (tests). */
  logHandler?: BaseHandler;
  /** Interfaces for the Endpoint guess instead of `Deno.networkInterfaces()` (tests). */
  interfaces?: InterfaceAddress[];
}
