/**
 * Printing a client config for the user: the wg-quick text, then a QR code of the same text
 * (what the WireGuard phone apps scan). Goes to stdout only — never to the log.
 *
 * @module
 */
import type { CliIo } from "./io.ts";
import { encodeQr } from "./qr/qr_code.ts";
import { renderQr } from "./qr/render.ts";

/** Options for {@link printClientConfig}. */
export interface PrintOptions {
  /** Heading line (without `#`). */
  title: string;
  /** Also print a QR code. */
  qr: boolean;
}

/** The QR code of `text` as terminal lines (ANSI colors when stdout is a terminal). */
export function qrText(text: string, terminal: boolean): string {
  const qr = encodeQr(new TextEncoder().encode(text));
  return renderQr(qr, { ansi: terminal && !Deno.noColor });
}

/** The config without comment lines: what the QR code carries (smaller code, same config). */
export function withoutComments(configText: string): string {
  return configText.split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
}

/** Writes the client config and (optionally) its QR code to stdout. */
export function printClientConfig(io: CliIo, configText: string, options: PrintOptions): void {
  io.out(`# ${options.title}\n${configText}`);
  if (options.qr) io.out("\n" + qrText(withoutComments(configText), io.stdoutIsTerminal));
}
