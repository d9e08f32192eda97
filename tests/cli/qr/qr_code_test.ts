import assert from "node:assert/strict";
// Test-only decoder (an independent QR implementation).
import jsQRModule from "jsqr";
import {
  alignmentPositions,
  byteCapacity,
  encodeQr,
  formatBits,
  type QrCode,
  versionBits,
} from "../../../src/cli/qr/qr_code.ts";
import { gfMultiply, rsGenerator, rsRemainder } from "../../../src/cli/qr/reed_solomon.ts";
import { renderQr } from "../../../src/cli/qr/render.ts";

// jsQR is CommonJS; its types declare a namespace, the runtime default export is the function.
const jsQR = jsQRModule as unknown as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { binaryData: number[] } | null;

/** Draws the symbol as an RGBA image (4-module quiet zone) and decodes it with jsQR. */
function decode(qr: QrCode, scale: number): Uint8Array | undefined {
  const q = 4, n = (qr.size + 2 * q) * scale;
  const img = new Uint8ClampedArray(n * n * 4).fill(255);
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (!qr.modules[y * qr.size + x]) continue;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const o = (((y + q) * scale + dy) * n + (x + q) * scale + dx) * 4;
          img[o] = img[o + 1] = img[o + 2] = 0;
        }
      }
    }
  }
  const r = jsQR(img, n, n);
  return r ? Uint8Array.from(r.binaryData) : undefined;
}

Deno.test("format and version information: ISO/IEC 18004 Annex C/D values", () => {
  assert.equal(formatBits("M", 0), 0x5412);
  assert.equal(formatBits("L", 0), 0x77c4);
  assert.equal(formatBits("L", 7), 0x6976);
  assert.equal(formatBits("M", 5), 0x40ce);
  assert.equal(versionBits(7), 0x07c94);
  assert.equal(versionBits(40), 0x28c69);
});

Deno.test("capacities and alignment positions match the standard's tables", () => {
  assert.equal(byteCapacity(1, "L"), 17);
  assert.equal(byteCapacity(1, "M"), 14);
  assert.equal(byteCapacity(10, "L"), 271);
  assert.equal(byteCapacity(10, "M"), 213);
  assert.equal(byteCapacity(40, "L"), 2953);
  assert.equal(byteCapacity(40, "M"), 2331);
  assert.deepEqual(alignmentPositions(1), []);
  assert.deepEqual(alignmentPositions(2), [6, 18]);
  assert.deepEqual(alignmentPositions(7), [6, 22, 38]);
  assert.deepEqual(alignmentPositions(23), [6, 30, 54, 78, 102]);
  assert.deepEqual(alignmentPositions(32), [6, 34, 60, 86, 112, 138]);
  assert.deepEqual(alignmentPositions(40), [6, 30, 58, 86, 114, 142, 170]);
});

Deno.test("Reed-Solomon: GF(256) and the 1-M codewords of the standard's worked example", () => {
  assert.equal(gfMultiply(0x80, 0x02), 0x1d);
  assert.equal(gfMultiply(0x53, 0xca), gfMultiply(0xca, 0x53));
  // ISO/IEC 18004 Annex I: "01234567" in version 1-M; data codewords and their 10 EC codewords.
  const data = Uint8Array.from([
    0x10,
    0x20,
    0x0c,
    0x56,
    0x61,
    0x80,
    0xec,
    0x11,
    0xec,
    0x11,
    0xec,
    0x11,
    0xec,
    0x11,
    0xec,
    0x11,
  ]);
  const ecc = rsRemainder(data, rsGenerator(10));
  assert.deepEqual([...ecc], [0xa5, 0x24, 0xd4, 0xc1, 0xed, 0x36, 0xc7, 0x87, 0x2c, 0x55]);
});

Deno.test("every version 1-40 at L and M decodes back to its data (jsQR)", () => {
  for (const level of ["L", "M"] as const) {
    for (let v = 1; v <= 40; v++) {
      // jsQR 1.4.0's table gives version 23 an alignment centre of 74 instead of 78 (checked
      // above against the standard), so it cannot read a full 23-L symbol; M survives by its EC.
      if (v === 23 && level === "L") continue;
      const cap = byteCapacity(v, level);
      const data = Uint8Array.from({ length: cap }, (_, i) => (i * 31 + v) & 0xff);
      const qr = encodeQr(data, { minVersion: v, maxVersion: v, minEcLevel: level });
      assert.equal(qr.version, v);
      assert.equal(qr.ecLevel, level);
      assert.equal(qr.size, 17 + 4 * v);
      assert.deepEqual(decode(qr, v > 20 ? 2 : 3), data, `version ${v}-${level}`);
    }
  }
});

Deno.test("all eight masks decode; automatic choice picks the smallest version, M when free", () => {
  const data = new TextEncoder().encode("[Interface]\nPrivateKey = x\n");
  for (let mask = 0; mask < 8; mask++) {
    const qr = encodeQr(data, { mask });
    assert.equal(qr.mask, mask);
    assert.deepEqual(decode(qr, 4), data);
  }
  const auto = encodeQr(new Uint8Array(14));
  assert.equal(auto.version, 1);
  assert.equal(auto.ecLevel, "M");
  assert.equal(encodeQr(new Uint8Array(17)).ecLevel, "L");
  assert.equal(encodeQr(new Uint8Array(18)).version, 2);
  assert.throws(() => encodeQr(new Uint8Array(3000)), /do not fit/);
});

Deno.test("renderQr: half-block rows round-trip to the module matrix", () => {
  const qr = encodeQr(new TextEncoder().encode("newt-proxy"));
  for (const invert of [true, false]) {
    const text = renderQr(qr, { invert });
    assert.ok(text.endsWith("\n"));
    const lines = text.slice(0, -1).split("\n");
    const full = qr.size + 8;
    assert.equal(lines.length, Math.ceil(full / 2));
    for (const l of lines) assert.equal([...l].length, full);
    const ink = (x: number, y: number): number => {
      const ch = [...(lines[y >> 1] as string)][x] as string;
      const top = ch === "█" || ch === "▀", bottom = ch === "█" || ch === "▄";
      return (y & 1 ? bottom : top) ? 1 : 0;
    };
    for (let y = 0; y < qr.size; y++) {
      for (let x = 0; x < qr.size; x++) {
        const dark = ink(x + 4, y + 4) === (invert ? 0 : 1) ? 1 : 0;
        assert.equal(dark, qr.modules[y * qr.size + x]);
      }
    }
  }
  const ansi = renderQr(qr, { ansi: true });
  assert.ok(ansi.split("\n")[0]!.startsWith("\x1b[30;47m"));
});
