/**
 * Loads the embedded netstack WebAssembly module (no read or net permission needed).
 * @module
 */
import { NETSTACK_WASM_BASE64 } from "./netstack_wasm.ts";

/** The functions netstack.wasm exports (see wasm/glue.c). */
export interface NetstackExports {
  memory: WebAssembly.Memory;
  io_ptr(): number;
  io_size(): number;
  tuple_ptr(): number;
  init(mtu: number): number;
  add_address(family: number, prefix: number): number;
  config(key: number, value: number): number;
  input(len: number): number;
  ack_flush(): void;
  timers(): number;
  next_timeout(): number;
  pace_ticks(): number;
  tcp_accept_held(len: number): number;
  tcp_refuse_held(len: number): number;
  tcp_abort_pending(): number;
  tcp_write(fid: number, len: number): number;
  tcp_space(fid: number): number;
  tcp_unacked(fid: number): number;
  tcp_recved(fid: number, n: number): number;
  tcp_shutdown(fid: number): number;
  tcp_close(fid: number): number;
  tcp_abort(fid: number): number;
  tcp_info(fid: number): number;
  tcp_connect(family: number, port: number): number;
  tcp_listen(family: number, port: number): number;
  tcp_local_port(fid: number): number;
  udp_send_from(len: number): number;
  udp_open(family: number, port: number): number;
  udp_local_port(sid: number): number;
  udp_sendto(sid: number, len: number): number;
  udp_close(sid: number): number;
  icmp_unreach(len: number, code: number, fromOriginal: number): number;
  stats(): number;
}

/** The functions netstack.wasm imports (module "newt"). */
export interface NetstackImports {
  output(ptr: number, len: number): void;
  now(): number;
  /** Microseconds, monotonic, as u32 (wraps): the TCP pacer's clock. */
  now_us(): number;
  fatal(msg: number, line: number): void;
  tcp_syn(ptr: number, len: number): void;
  tcp_rst(ptr: number, len: number): void;
  tcp_accepted(listener: number, fid: number): void;
  tcp_connected(fid: number, err: number): void;
  tcp_data(fid: number, ptr: number, len: number): void;
  tcp_fin(fid: number): void;
  tcp_sent(fid: number): void;
  tcp_err(fid: number, err: number): void;
  udp_recv(sid: number, ptr: number, len: number): void;
}

let compiled: Promise<WebAssembly.Module> | undefined;

function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Compiles the embedded module once per process. */
export function netstackModule(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(decodeBase64(NETSTACK_WASM_BASE64) as Uint8Array<ArrayBuffer>);
  return compiled;
}

/** Instantiates a fresh stack instance (its own fixed-size memory). */
export async function instantiateNetstack(imports: NetstackImports): Promise<NetstackExports> {
  const module = await netstackModule();
  const instance = await WebAssembly.instantiate(module, {
    newt: imports as unknown as WebAssembly.ModuleImports,
  });
  return instance.exports as unknown as NetstackExports;
}
