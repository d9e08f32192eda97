/**
 * Process signals for `run`: SIGINT/SIGTERM ask for a graceful stop (a second one forces it),
 * SIGHUP asks for a reload. An AbortSignal stands in for SIGTERM (tests, embedding).
 *
 * @module
 */

/** Stop and reload requests. */
export interface SignalWatch {
  /** Resolves with the first stop request's name (`"SIGINT"`, `"SIGTERM"`, `"abort"`). */
  readonly stopped: Promise<string>;
  /** Resolves on a second stop request: stop waiting for flows. */
  readonly forced: Promise<string>;
  /** Removes the signal listeners. */
  dispose(): void;
}

function deferred(): { promise: Promise<string>; resolve: (v: string) => void } {
  let resolve!: (v: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  return { promise, resolve };
}

/** Listens for SIGINT/SIGTERM (stop) and SIGHUP (`onReload`), plus `abort`. */
export function watchSignals(onReload: () => void, abort?: AbortSignal): SignalWatch {
  const stop = deferred();
  const force = deferred();
  let count = 0;
  const request = (name: string) => {
    count++;
    if (count === 1) stop.resolve(name);
    else force.resolve(name);
  };
  const installed: Array<[Deno.Signal, () => void]> = [];
  const install = (sig: Deno.Signal, fn: () => void) => {
    try {
      Deno.addSignalListener(sig, fn);
      installed.push([sig, fn]);
    } catch {
      // Not every platform has every signal (Windows: SIGINT and SIGBREAK only).
    }
  };
  install("SIGINT", () => request("SIGINT"));
  if (Deno.build.os !== "windows") {
    install("SIGTERM", () => request("SIGTERM"));
    install("SIGHUP", onReload);
  }
  const onAbort = () => request("abort");
  if (abort?.aborted) onAbort();
  else abort?.addEventListener("abort", onAbort);
  return {
    stopped: stop.promise,
    forced: force.promise,
    dispose() {
      for (const [sig, fn] of installed) {
        try {
          Deno.removeSignalListener(sig, fn);
        } catch {
          // already gone
        }
      }
      installed.length = 0;
      abort?.removeEventListener("abort", onAbort);
    },
  };
}

/** Resolves after `ms` unless cancelled; returns the cancel function with the promise. */
export function delay(ms: number): { promise: Promise<"timeout">; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    id = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}
