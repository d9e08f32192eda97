/**
 * A small QR code encoder (ISO/IEC 18004): byte mode, error-correction level L or M, versions
 * 1-40, all eight masks scored by the standard penalty rules. Enough for a WireGuard config
 * (~300 bytes fits version 11-L); no dependency.
 *
 * Steps, in the order of the standard: data bits (§7.4) → codewords and Reed-Solomon blocks
 * (§7.5, §7.6) → function patterns (§6.3) → codeword placement (§7.7.3) → masking (§7.8) →
 * format and version information (§7.9, §7.10).
 *
 * @example
 * ```ts
 * import { encodeQr } from "./qr_code.ts";
 * const qr = encodeQr(new TextEncoder().encode("hello"));
 * if (qr.version !== 1 || qr.size !== 21) throw new Error("expected version 1");
 * ```
 * @module
 */
import { rsGenerator, rsRemainder } from "./reed_solomon.ts";
import {
  EC_FORMAT_BITS,
  ECC_CODEWORDS_PER_BLOCK,
  type EcLevel,
  MAX_VERSION,
  NUM_ERROR_CORRECTION_BLOCKS,
} from "./tables.ts";

export type { EcLevel } from "./tables.ts";

/** An encoded symbol. */
export interface QrCode {
  /** Version 1-40. */
  version: number;
  /** Modules per side (17 + 4·version). */
  size: number;
  /** Error-correction level used. */
  ecLevel: EcLevel;
  /** Mask pattern 0-7 applied. */
  mask: number;
  /** Row-major modules, 1 = dark. */
  modules: Uint8Array;
}

/** Options for {@link encodeQr}. */
export interface QrOptions {
  /** Lowest error correction accepted; M is used instead when it fits the same version. Default L. */
  minEcLevel?: EcLevel;
  /** Smallest version to use. Default 1. */
  minVersion?: number;
  /** Largest version allowed. Default 40. */
  maxVersion?: number;
  /** Force a mask 0-7 (tests); default: the lowest penalty. */
  mask?: number;
}

/** Thrown when the data does not fit the largest allowed version. */
export class QrDataTooLongError extends Error {
  /** Creates the error. */
  constructor(bytes: number, maxVersion: number) {
    super(`${bytes} bytes do not fit a QR code up to version ${maxVersion}`);
    this.name = "QrDataTooLongError";
  }
}

/** Modules available for data and EC codewords (everything but function patterns). */
export function rawDataModules(version: number): number {
  let result = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const numAlign = Math.floor(version / 7) + 2;
    result -= (25 * numAlign - 10) * numAlign - 55;
    if (version >= 7) result -= 36;
  }
  return result;
}

/** Data codewords (bytes) of a version at a level. */
export function dataCodewords(version: number, level: EcLevel): number {
  return Math.floor(rawDataModules(version) / 8) -
    (ECC_CODEWORDS_PER_BLOCK[level][version] as number) *
      (NUM_ERROR_CORRECTION_BLOCKS[level][version] as number);
}

/** Bits of the byte-mode character count field (§7.4.1, Table 3). */
function countBits(version: number): number {
  return version <= 9 ? 8 : 16;
}

/** Bytes of data that fit a version at a level in byte mode. */
export function byteCapacity(version: number, level: EcLevel): number {
  return Math.floor((dataCodewords(version, level) * 8 - 4 - countBits(version)) / 8);
}

/** Centre coordinates of alignment patterns along one axis (§6.3.6, Annex E). */
export function alignmentPositions(version: number): number[] {
  if (version === 1) return [];
  const numAlign = Math.floor(version / 7) + 2;
  const step = Math.floor((version * 8 + numAlign * 3 + 5) / (numAlign * 4 - 4)) * 2;
  const size = version * 4 + 17;
  const result = [6];
  for (let pos = size - 7; result.length < numAlign; pos -= step) result.splice(1, 0, pos);
  return result;
}

/** Data bits → padded data codewords (§7.4.2-§7.4.10). */
function dataBytes(data: Uint8Array, version: number, level: EcLevel): Uint8Array {
  const capacity = dataCodewords(version, level);
  const out = new Uint8Array(capacity);
  let bitLen = 0;
  const put = (value: number, bits: number) => {
    for (let i = bits - 1; i >= 0; i--, bitLen++) {
      if ((value >>> i) & 1) {
        out[bitLen >>> 3] = (out[bitLen >>> 3] as number) | (0x80 >>> (bitLen & 7));
      }
    }
  };
  put(0b0100, 4); // byte mode
  put(data.length, countBits(version));
  for (const b of data) put(b, 8);
  put(0, Math.min(4, capacity * 8 - bitLen)); // terminator
  bitLen = Math.ceil(bitLen / 8) * 8;
  for (let i = bitLen / 8, pad = 0xec; i < capacity; i++, pad ^= 0xec ^ 0x11) out[i] = pad;
  return out;
}

/** Splits into blocks, appends RS codewords and interleaves (§7.5.2, §7.6). */
function interleave(data: Uint8Array, version: number, level: EcLevel): Uint8Array {
  const numBlocks = NUM_ERROR_CORRECTION_BLOCKS[level][version] as number;
  const eccLen = ECC_CODEWORDS_PER_BLOCK[level][version] as number;
  const raw = Math.floor(rawDataModules(version) / 8);
  const numShort = numBlocks - (raw % numBlocks);
  const shortLen = Math.floor(raw / numBlocks);
  const generator = rsGenerator(eccLen);
  const blocks: Uint8Array[] = [];
  for (let i = 0, k = 0; i < numBlocks; i++) {
    const dataLen = shortLen - eccLen + (i < numShort ? 0 : 1);
    const block = data.subarray(k, k + dataLen);
    k += dataLen;
    const ecc = rsRemainder(block, generator);
    // Short blocks get a placeholder byte so all blocks index alike; it is skipped below.
    const full = new Uint8Array(shortLen + 1);
    full.set(block, 0);
    full.set(ecc, i < numShort ? dataLen + 1 : dataLen);
    blocks.push(full);
  }
  const out = new Uint8Array(raw);
  let n = 0;
  for (let i = 0; i <= shortLen; i++) {
    for (let j = 0; j < numBlocks; j++) {
      if (i === shortLen - eccLen && j < numShort) continue;
      out[n++] = (blocks[j] as Uint8Array)[i] as number;
    }
  }
  return out;
}

class Matrix {
  readonly modules: Uint8Array;
  readonly isFunction: Uint8Array;
  constructor(readonly size: number) {
    this.modules = new Uint8Array(size * size);
    this.isFunction = new Uint8Array(size * size);
  }
  get(x: number, y: number): number {
    return this.modules[y * this.size + x] as number;
  }
  setFunction(x: number, y: number, dark: boolean): void {
    this.modules[y * this.size + x] = dark ? 1 : 0;
    this.isFunction[y * this.size + x] = 1;
  }
}

function drawFunctionPatterns(m: Matrix, version: number): void {
  const size = m.size;
  for (let i = 0; i < size; i++) {
    m.setFunction(6, i, i % 2 === 0);
    m.setFunction(i, 6, i % 2 === 0);
  }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]] as const) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx, y = cy + dy;
        if (x < 0 || x >= size || y < 0 || y >= size) continue;
        const dist = Math.max(Math.abs(dx), Math.abs(dy));
        m.setFunction(x, y, dist !== 2 && dist !== 4);
      }
    }
  }
  const align = alignmentPositions(version);
  const last = align.length - 1;
  for (let i = 0; i <= last; i++) {
    for (let j = 0; j <= last; j++) {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          m.setFunction(
            (align[i] as number) + dx,
            (align[j] as number) + dy,
            Math.max(Math.abs(dx), Math.abs(dy)) !== 1,
          );
        }
      }
    }
  }
  drawFormatBits(m, "L", 0); // reserve the areas; real bits are drawn after masking
  drawVersion(m, version);
}

/** Format information: 2 EC bits + 3 mask bits, BCH(15,5), XOR 0x5412 (§7.9). */
export function formatBits(level: EcLevel, mask: number): number {
  const data = (EC_FORMAT_BITS[level] << 3) | mask;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  return ((data << 10) | rem) ^ 0x5412;
}

function drawFormatBits(m: Matrix, level: EcLevel, mask: number): void {
  const bits = formatBits(level, mask);
  const bit = (i: number) => ((bits >>> i) & 1) === 1;
  const size = m.size;
  for (let i = 0; i <= 5; i++) m.setFunction(8, i, bit(i));
  m.setFunction(8, 7, bit(6));
  m.setFunction(8, 8, bit(7));
  m.setFunction(7, 8, bit(8));
  for (let i = 9; i < 15; i++) m.setFunction(14 - i, 8, bit(i));
  for (let i = 0; i < 8; i++) m.setFunction(size - 1 - i, 8, bit(i));
  for (let i = 8; i < 15; i++) m.setFunction(8, size - 15 + i, bit(i));
  m.setFunction(8, size - 8, true); // the dark module
}

/** Version information for versions 7+: 6 bits, BCH(18,6) (§7.10). */
export function versionBits(version: number): number {
  let rem = version;
  for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
  return (version << 12) | rem;
}

function drawVersion(m: Matrix, version: number): void {
  if (version < 7) return;
  const bits = versionBits(version);
  for (let i = 0; i < 18; i++) {
    const dark = ((bits >>> i) & 1) === 1;
    const a = m.size - 11 + (i % 3);
    const b = Math.floor(i / 3);
    m.setFunction(a, b, dark);
    m.setFunction(b, a, dark);
  }
}

function drawCodewords(m: Matrix, codewords: Uint8Array): void {
  const size = m.size;
  let i = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5; // skip the vertical timing column
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const upward = ((right + 1) & 2) === 0;
        const y = upward ? size - 1 - vert : vert;
        const idx = y * size + x;
        if (m.isFunction[idx] || i >= codewords.length * 8) continue;
        m.modules[idx] = ((codewords[i >>> 3] as number) >>> (7 - (i & 7))) & 1;
        i++;
      }
    }
  }
}

const MASKS: ReadonlyArray<(x: number, y: number) => boolean> = [
  (x, y) => (x + y) % 2 === 0,
  (_x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

function applyMask(m: Matrix, mask: number): void {
  const f = MASKS[mask] as (x: number, y: number) => boolean;
  for (let y = 0; y < m.size; y++) {
    for (let x = 0; x < m.size; x++) {
      const idx = y * m.size + x;
      if (!m.isFunction[idx] && f(x, y)) m.modules[idx] = (m.modules[idx] as number) ^ 1;
    }
  }
}

/** The four penalty rules of §7.8.3 (N1 = 3, N2 = 3, N3 = 40, N4 = 10). */
export function penaltyScore(modules: Uint8Array, size: number): number {
  let score = 0;
  const at = (x: number, y: number) => modules[y * size + x] as number;
  const finderLike = (get: (i: number) => number) => {
    // 1:1:3:1:1 dark-light-dark-light-dark with four light modules on either side.
    const pattern = [1, 0, 1, 1, 1, 0, 1];
    let count = 0;
    for (let i = 0; i + 7 <= size; i++) {
      if (!pattern.every((p, k) => get(i + k) === p)) continue;
      const lightBefore = [1, 2, 3, 4].every((k) => i - k < 0 || get(i - k) === 0);
      const lightAfter = [0, 1, 2, 3].every((k) => i + 7 + k >= size || get(i + 7 + k) === 0);
      if (lightBefore) count++;
      if (lightAfter) count++;
    }
    return count;
  };
  for (let line = 0; line < size; line++) {
    for (const get of [(i: number) => at(i, line), (i: number) => at(line, i)]) {
      let run = 1;
      for (let i = 1; i <= size; i++) {
        if (i < size && get(i) === get(i - 1)) {
          run++;
          continue;
        }
        if (run >= 5) score += 3 + (run - 5);
        run = 1;
      }
      score += 40 * finderLike(get);
    }
  }
  for (let y = 0; y + 1 < size; y++) {
    for (let x = 0; x + 1 < size; x++) {
      const c = at(x, y);
      if (c === at(x + 1, y) && c === at(x, y + 1) && c === at(x + 1, y + 1)) score += 3;
    }
  }
  let dark = 0;
  for (const v of modules) dark += v;
  const total = size * size;
  score += 10 * Math.floor(Math.abs(dark * 100 / total - 50) / 5);
  return score;
}

/** Encodes bytes in byte mode; picks the smallest version, then the best mask. */
export function encodeQr(data: Uint8Array, options: QrOptions = {}): QrCode {
  const minVersion = options.minVersion ?? 1;
  const maxVersion = Math.min(options.maxVersion ?? MAX_VERSION, MAX_VERSION);
  let level: EcLevel = options.minEcLevel ?? "L";
  let version = minVersion;
  while (version <= maxVersion && byteCapacity(version, level) < data.length) version++;
  if (version > maxVersion) throw new QrDataTooLongError(data.length, maxVersion);
  if (level === "L" && byteCapacity(version, "M") >= data.length) level = "M";

  const codewords = interleave(dataBytes(data, version, level), version, level);
  const m = new Matrix(version * 4 + 17);
  drawFunctionPatterns(m, version);
  drawCodewords(m, codewords);

  let mask = options.mask ?? -1;
  if (mask < 0) {
    let best = Infinity;
    for (let candidate = 0; candidate < 8; candidate++) {
      applyMask(m, candidate);
      drawFormatBits(m, level, candidate);
      const score = penaltyScore(m.modules, m.size);
      if (score < best) {
        best = score;
        mask = candidate;
      }
      applyMask(m, candidate); // XOR again undoes it
    }
  }
  applyMask(m, mask);
  drawFormatBits(m, level, mask);
  return { version, size: m.size, ecLevel: level, mask, modules: m.modules };
}
