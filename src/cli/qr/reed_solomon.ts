/**
 * Reed-Solomon error correction over GF(2^8) with the QR polynomial x^8+x^4+x^3+x^2+1 (0x11D),
 * generator roots α^0 … α^(n-1) (ISO/IEC 18004 §7.5.2).
 *
 * @module
 */

/** Multiplies two field elements (Russian-peasant, reduced by 0x11D). */
export function gfMultiply(x: number, y: number): number {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z & 0xff;
}

/** Coefficients of the monic generator polynomial of `degree`, highest first, leading 1 dropped. */
export function rsGenerator(degree: number): Uint8Array {
  const g = new Uint8Array(degree);
  g[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      g[j] = gfMultiply(g[j] as number, root);
      if (j + 1 < degree) g[j] = (g[j] as number) ^ (g[j + 1] as number);
    }
    root = gfMultiply(root, 0x02);
  }
  return g;
}

/** The error-correction codewords of `data` for `generator` (remainder of data·x^n / g). */
export function rsRemainder(data: Uint8Array, generator: Uint8Array): Uint8Array {
  const n = generator.length;
  const rem = new Uint8Array(n);
  for (const byte of data) {
    const factor = byte ^ (rem[0] as number);
    rem.copyWithin(0, 1);
    rem[n - 1] = 0;
    for (let i = 0; i < n; i++) {
      rem[i] = (rem[i] as number) ^ gfMultiply(generator[i] as number, factor);
    }
  }
  return rem;
}
