/**
 * Draws a QR code in a terminal with Unicode half blocks: one text row holds two module rows, so
 * the code stays roughly square. With `ansi`, every row sets black on white so the code reads on
 * dark and light terminals alike; without, light modules are drawn as ink (right for the usual
 * light-on-dark terminal) — pass `invert: false` for dark ink on paper-like output.
 *
 * @module
 */
import type { QrCode } from "./qr_code.ts";

/** Options for {@link renderQr}. */
export interface RenderOptions {
  /** Wrap rows in ANSI black-on-white. Default false. */
  ansi?: boolean;
  /** Draw light modules as ink (plain mode only). Default true. */
  invert?: boolean;
  /** Light border in modules (the standard asks for 4). Default 4. */
  quietZone?: number;
}

const GLYPHS = [" ", "▄", "▀", "█"] as const; // index = top·2 + bottom, 1 = ink

/** Renders `qr` as lines of text ending in a newline. */
export function renderQr(qr: QrCode, options: RenderOptions = {}): string {
  const quiet = options.quietZone ?? 4;
  const ansi = options.ansi ?? false;
  const inkIsDark = ansi || options.invert === false;
  const full = qr.size + 2 * quiet;
  const dark = (x: number, y: number): number => {
    const qx = x - quiet, qy = y - quiet;
    if (qx < 0 || qy < 0 || qx >= qr.size || qy >= qr.size) return 0;
    return qr.modules[qy * qr.size + qx] as number;
  };
  const ink = (
    x: number,
    y: number,
  ): number => (y >= full ? 0 : inkIsDark ? dark(x, y) : 1 - dark(x, y));
  const lines: string[] = [];
  for (let y = 0; y < full; y += 2) {
    let row = "";
    for (let x = 0; x < full; x++) row += GLYPHS[ink(x, y) * 2 + ink(x, y + 1)];
    lines.push(ansi ? `\x1b[30;47m${row}\x1b[0m` : row);
  }
  return lines.join("\n") + "\n";
}
