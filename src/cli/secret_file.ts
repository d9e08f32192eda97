/**
 * Files holding keys: created 0600 in a 0700 directory, written atomically (temporary file in the
 * same directory, fsync, rename), and refused on read when other users may read them — where
 * wg-quick only warns ("is world accessible"), a proxy that starts unattended should not run on a
 * leaked key.
 *
 * @module
 */
import { CliError } from "./errors.ts";

/** Mode of key files. */
export const SECRET_FILE_MODE = 0o600;
/** Mode of the state directory. */
export const SECRET_DIR_MODE = 0o700;

const isPosix = Deno.build.os !== "windows";

/** The directory part of `path` (`.` for a bare name). */
export function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/** Creates `dir` (and parents) with mode 0700 if missing; an existing dir is left as it is. */
export async function ensureSecretDir(dir: string): Promise<void> {
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) throw new CliError(`state path ${dir} exists and is not a directory`);
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dir, { recursive: true, mode: SECRET_DIR_MODE });
  // mkdir's mode is filtered by the umask; make it exact.
  if (isPosix) await Deno.chmod(dir, SECRET_DIR_MODE);
}

/** Writes `text` to `path` atomically with mode 0600. */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  const suffix = crypto.getRandomValues(new Uint32Array(1))[0]?.toString(16) ?? "0";
  const tmp = `${path}.tmp-${suffix}`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: SECRET_FILE_MODE });
  try {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.sync();
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  try {
    // The create mode is filtered by the umask; make it exact before the file gets its name.
    if (isPosix) await Deno.chmod(tmp, SECRET_FILE_MODE);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Why a key file's mode is unsafe, or undefined when it is fine (or not a POSIX system). */
export function unsafeModeReason(mode: number | null): string | undefined {
  if (mode === null || !isPosix) return undefined;
  if ((mode & 0o004) !== 0) {
    return `is world-readable (mode ${(mode & 0o777).toString(8).padStart(4, "0")})`;
  }
  return undefined;
}

/** Reads a key file, refusing one that other users can read. */
export async function readSecretFile(path: string): Promise<string> {
  const info = await Deno.stat(path);
  const unsafe = unsafeModeReason(info.mode);
  if (unsafe !== undefined) {
    throw new CliError(`${path} ${unsafe}; it holds a private key: run 'chmod 600 ${path}'`);
  }
  return await Deno.readTextFile(path);
}

/** Whether `path` exists (a directory's parent must be readable). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
