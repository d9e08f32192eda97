/**
 * `genkey`, `genpsk` and `pubkey`: the `wg` key tools (base64 on stdout; `pubkey` reads a private
 * key on stdin).
 *
 * @module
 */
import { formatKey, KeyFormatError, parseKey } from "../wireguard/key_text.ts";
import { generatePresharedKey, generatePrivateKey, publicKey } from "../wireguard/keys.ts";
import type { CliContext } from "./context.ts";
import { CliError } from "./errors.ts";
import type { CommandSpec } from "./flags.ts";

/** `genkey`'s help. */
export const GENKEY_SPEC: CommandSpec = {
  name: "genkey",
  summary: "Print a new private key (like `wg genkey`).",
  flags: [],
};
/** `genpsk`'s help. */
export const GENPSK_SPEC: CommandSpec = {
  name: "genpsk",
  summary: "Print a new preshared key (like `wg genpsk`).",
  flags: [],
};
/** `pubkey`'s help. */
export const PUBKEY_SPEC: CommandSpec = {
  name: "pubkey",
  summary: "Read a private key on stdin, print its public key (like `wg pubkey`).",
  flags: [],
};

/** Prints a new private key. */
export function genkeyCommand(ctx: CliContext): number {
  ctx.io.out(formatKey(generatePrivateKey()) + "\n");
  return 0;
}

/** Prints a new preshared key. */
export function genpskCommand(ctx: CliContext): number {
  ctx.io.out(formatKey(generatePresharedKey()) + "\n");
  return 0;
}

/** Reads a private key from stdin, prints the public key. */
export async function pubkeyCommand(ctx: CliContext): Promise<number> {
  const text = (await ctx.io.readStdin()).trim();
  let key: Uint8Array;
  try {
    key = parseKey(text);
  } catch (e) {
    if (e instanceof KeyFormatError) {
      throw new CliError(`pubkey: stdin is not a private key: ${e.message}`);
    }
    throw e;
  }
  ctx.io.out(formatKey(publicKey(key)) + "\n");
  return 0;
}
