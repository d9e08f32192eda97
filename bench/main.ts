/**
 * `deno task bench`: microbenchmarks (WireGuard crypto and data path, netstack, proxied connections,
 * thread wake-ups) and, when root, the side-by-side end-to-end benchmark in network namespaces
 * (bench/e2e). Each part runs in its own process so one's heap and JIT state do not colour
 * another's figures.
 *
 *   deno task bench            # everything that can run here
 *   deno task bench --quick    # one short run of each
 */
const quick = Deno.args.includes("--quick");
const here = (f: string) => new URL(f, import.meta.url).pathname;

async function part(title: string, args: string[]): Promise<boolean> {
  console.log(`\n## ${title}\n`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) console.log(`(${title} exited with ${code})`);
  return code === 0;
}

let ok = true;
ok = await part("WireGuard", ["run", "-A", "--unstable-net", here("./wireguard_bench.ts")]) && ok;
ok = await part("Transport AEAD (wasm vs node:crypto)", ["run", "-A", here("./aead_bench.ts")]) &&
  ok;
ok = await part("Netstack", [
  "run",
  "-A",
  "--v8-flags=--expose-gc",
  here("./netstack_bench.ts"),
  ...(quick ? ["50", "500"] : []),
]) && ok;
ok = await part("Proxied connections in one process (connections/s, garbage per connection)", [
  "run",
  "-A",
  here("./proxy_conn_bench.ts"),
  ...(quick ? ["3000"] : []),
]) && ok;
ok = await part("Thread wake-ups (the UDP Worker's hand-offs)", [
  "run",
  "-A",
  here("./thread_wake_bench.ts"),
  ...(quick ? ["--quick"] : []),
]) && ok;
const e2e = here("./e2e/main.ts");
const haveE2E = await Deno.stat(e2e).then(() => true, () => false);
if (haveE2E && Deno.uid() === 0) {
  ok = await part("End to end (namespaces)", [
    "run",
    "-A",
    "--unstable-net",
    e2e,
    ...(quick ? ["--quick"] : []),
  ]) && ok;
} else {
  console.log("\n(end-to-end benchmark skipped: it needs root for network namespaces)");
}
Deno.exit(ok ? 0 : 1);
