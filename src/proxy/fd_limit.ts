/**
 * The process's open-file limit, so flow bounds stay below it: running out of descriptors makes
 * dials fail (counted, fine) but can also make the runtime itself fail (Deno 2.9.6 panics when a
 * signal handler cannot get a descriptor). Read from /proc/self/limits when Deno lets us; Deno
 * raises the soft limit to the hard one at start, so the soft limit is what we get.
 *
 * @module
 */

/** Descriptors kept for the runtime, the WireGuard socket, metrics and logs. */
export const FD_RESERVE = 64;

/** The soft RLIMIT_NOFILE, or null when it cannot be read (no permission, not Linux). */
export function readFdLimit(): number | null {
  try {
    if (
      Deno.permissions.querySync({ name: "read", path: "/proc/self/limits" }).state !== "granted"
    ) {
      return null;
    }
    const text = Deno.readTextFileSync("/proc/self/limits");
    const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(text);
    if (!m) return null;
    return m[1] === "unlimited" ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Bounds for flows (TCP flows hold one descriptor, UDP sessions up to two) that fit `limit`:
 * half the budget for flows in total, a quarter for UDP sessions.
 */
export function boundsForFdLimit(limit: number): { maxFlows: number; maxUdpSessions: number } {
  const budget = Math.max(16, limit - FD_RESERVE);
  return { maxFlows: Math.floor(budget / 2), maxUdpSessions: Math.max(4, Math.floor(budget / 4)) };
}
