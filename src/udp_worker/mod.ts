/**
 * A Worker-backed {@link UdpSocket}: receive and send syscalls on a second thread, datagrams
 * handed over through SharedArrayBuffer rings. `Device.listen()` uses it by default.
 *
 * @example
 * ```ts ignore
 * import { listenUdpWorker } from "./mod.ts";
 * const sock = await listenUdpWorker({ hostname: "127.0.0.1", port: 0, ringBytes: 1 << 20 });
 * sock.close();
 * ```
 * @module
 */

export type { UdpSocket } from "../udp_socket.ts";
export {
  DEFAULT_RECEIVE_BATCH,
  DEFAULT_RING_BYTES,
  DIRECT_PER_RUN,
  DIRECT_PER_TASK,
  isUdpWorkerSocket,
  listenUdpWorker,
  type ListenUdpWorkerOptions,
  QUIET_MAX_DATAGRAMS,
  type UdpWorkerSocket,
  type UdpWorkerStats,
  udpWorkerSupported,
} from "./udp_worker_socket.ts";
