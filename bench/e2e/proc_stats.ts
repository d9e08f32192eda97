/**
 * CPU time and memory of benchmark processes, read from /proc (Linux). Kernel work done on a
 * process's behalf in softirq context (e.g. the kernel's own TCP for scenario A) is not charged
 * to any process here, so these figures are the userspace process's share only.
 *
 * @module
 */

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on Linux x86). */
const USER_HZ = 100;

/** User + system CPU seconds a process has used so far (all its threads). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name (field 2) may contain spaces; fields are counted after its closing ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]), stime = Number(rest[12]);
  return (utime + stime) / USER_HZ;
}

/** Resident set size of a process in bytes (VmRSS). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Sum of `cpuSeconds` over several processes. */
export async function totalCpuSeconds(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) sum += await cpuSeconds(pid);
  return sum;
}

/** Sum of `rssBytes` over several processes. */
export async function totalRssBytes(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) sum += await rssBytes(pid);
  return sum;
}

/**
 * Finds the process whose command line is exactly `argv` and which lives in network namespace
 * `netnsName` (wireguard-go daemonizes, so its pid is not the one we spawned).
 */
export async function findProcessInNetns(
  argv: readonly string[],
  netnsName: string,
): Promise<number | undefined> {
  const nsIno = (await Deno.stat(`/run/netns/${netnsName}`)).ino;
  const want = argv.join("\0");
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).replace(/\0$/, "");
      if (cmd !== want) continue;
      if ((await Deno.stat(`/proc/${e.name}/ns/net`)).ino === nsIno) return Number(e.name);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}
