/**
 * Where the embedded default keeps its state: `--state-dir`, else `$NEWT_STATE_DIR`, else
 * `$XDG_STATE_HOME/newt-proxy`, else `~/.local/state/newt-proxy` (`%LOCALAPPDATA%\newt-proxy` on
 * Windows). Variables are read only when `--allow-env` grants them, so nothing ever prompts.
 *
 * @module
 */
import { envIfGranted } from "./permissions.ts";

/** Directory name under the XDG state home. */
export const STATE_DIR_NAME = "newt-proxy";
/** The server config file inside the state dir. */
export const SERVER_CONFIG_FILE = "server.conf";
/** Environment variables consulted, in order. */
export const STATE_ENV_VARS = ["NEWT_STATE_DIR", "XDG_STATE_HOME", "HOME"] as const;

/** Joins path parts with the platform separator. */
export function joinPath(...parts: string[]): string {
  const sep = Deno.build.os === "windows" ? "\\" : "/";
  return parts.filter((p) => p !== "").join(sep).replace(/([\\/])[\\/]+/g, "$1");
}

/**
 * The state directory, or undefined when no flag is given and no variable that would locate it is
 * readable (then the caller runs in memory and says which `--allow-env` would help).
 */
export function resolveStateDir(flag: string | undefined): string | undefined {
  if (flag !== undefined) return flag;
  const explicit = envIfGranted("NEWT_STATE_DIR");
  if (explicit !== undefined) return explicit;
  const xdg = envIfGranted("XDG_STATE_HOME");
  if (xdg !== undefined) return joinPath(xdg, STATE_DIR_NAME);
  if (Deno.build.os === "windows") {
    const local = envIfGranted("LOCALAPPDATA");
    return local === undefined ? undefined : joinPath(local, STATE_DIR_NAME);
  }
  const home = envIfGranted("HOME");
  return home === undefined ? undefined : joinPath(home, ".local", "state", STATE_DIR_NAME);
}
