/**
 * Permission checks that never prompt: `Deno.permissions.querySync` only, never `request()`.
 * Anything but "granted" counts as denied ("prompt" is what Deno answers without a TTY too).
 *
 * @module
 */

/** Whether Deno grants `desc` right now, without asking. */
export function isGranted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** Reads an environment variable only if `--allow-env` grants it; never prompts. */
export function envIfGranted(variable: string): string | undefined {
  if (!isGranted({ name: "env", variable })) return undefined;
  const value = Deno.env.get(variable);
  return value === "" ? undefined : value;
}

/** Whether both reading and writing `path` are granted. */
export function canReadWrite(path: string): boolean {
  return isGranted({ name: "read", path }) && isGranted({ name: "write", path });
}
