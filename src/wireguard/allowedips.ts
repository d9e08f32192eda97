/**
 * Cryptokey routing table (WireGuard whitepaper section 2): maps IP prefixes to peers with
 * longest-prefix match, separately for IPv4 and IPv6. A path-compressed binary trie as in
 * wireguard-go's `allowedips.go`: each node holds a masked prefix, and only nodes that carry a
 * value or branch exist, so a lookup visits at most one node per distinct prefix length on the path.
 *
 * Keys are held as four 32-bit words (IPv4 uses the first) with a precomputed mask per node, so
 * a lookup is a few XOR/AND comparisons per node and allocates nothing; it reads the address
 * straight out of the packet buffer ({@link AllowedIps.lookupDestination}).
 *
 * @example
 * ```ts
 * import { AllowedIps } from "./allowedips.ts";
 * import { parseIp } from "../wire/ip_address.ts";
 * const table = new AllowedIps<string>();
 * table.insert("10.0.0.0/8", "peer A");
 * table.insert("10.1.0.0/16", "peer B");
 * if (table.lookup(parseIp("10.1.2.3")) !== "peer B") throw new Error();
 * if (table.lookup(parseIp("10.2.0.1")) !== "peer A") throw new Error();
 * ```
 * @module
 */

import { type Cidr, formatCidr, parseCidr } from "../wire/ip_address.ts";

/** One prefix and the value it routes to. */
export interface AllowedIpEntry<T> {
  /** The prefix (host bits zero). */
  readonly cidr: Cidr;
  /** The peer (or other value) owning it. */
  readonly value: T;
}

class TrieNode<T> {
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  m0 = 0;
  m1 = 0;
  m2 = 0;
  m3 = 0;
  /** Index (0-3) of the word holding the bit that picks the child. */
  childWord = 0;
  /** Right shift bringing that bit to position 0. */
  childShift = 0;
  child0: TrieNode<T> | null = null;
  child1: TrieNode<T> | null = null;
  parent: TrieNode<T> | null = null;
  hasValue = false;
  value: T | undefined = undefined;

  constructor(
    readonly family: 4 | 6,
    readonly bits: number,
    key: Int32Array,
  ) {
    const m = new Int32Array(4);
    for (let i = 0; i < 4; i++) {
      const keep = bits - 32 * i;
      m[i] = keep >= 32 ? -1 : keep <= 0 ? 0 : (-1 << (32 - keep));
    }
    this.m0 = m[0] as number;
    this.m1 = m[1] as number;
    this.m2 = m[2] as number;
    this.m3 = m[3] as number;
    this.w0 = (key[0] as number) & this.m0;
    this.w1 = (key[1] as number) & this.m1;
    this.w2 = (key[2] as number) & this.m2;
    this.w3 = (key[3] as number) & this.m3;
    this.childWord = bits >>> 5;
    this.childShift = 31 - (bits & 31);
  }

  word(i: number): number {
    return i === 0 ? this.w0 : i === 1 ? this.w1 : i === 2 ? this.w2 : this.w3;
  }

  /** Bit `bits` of this node's key (for hanging it below a shorter prefix). */
  keyBit(bits: number): 0 | 1 {
    return ((this.word(bits >>> 5) >>> (31 - (bits & 31))) & 1) as 0 | 1;
  }

  child(side: 0 | 1): TrieNode<T> | null {
    return side === 0 ? this.child0 : this.child1;
  }

  setChild(side: 0 | 1, node: TrieNode<T> | null): void {
    if (side === 0) this.child0 = node;
    else this.child1 = node;
    if (node !== null) node.parent = this;
  }

  toCidr(): Cidr {
    const addr = new Uint8Array(this.family === 4 ? 4 : 16);
    for (let i = 0; i < addr.length; i++) {
      addr[i] = (this.word(i >>> 2) >>> (24 - 8 * (i & 3))) & 0xff;
    }
    return { addr, bits: this.bits };
  }
}

/** Reads a prefix's address bytes into four big-endian words. */
function keyWords(addr: Uint8Array): Int32Array {
  const key = new Int32Array(4);
  for (let i = 0; i < addr.length; i++) {
    key[i >>> 2] = (key[i >>> 2] as number) | ((addr[i] as number) << (24 - 8 * (i & 3)));
  }
  return key;
}

function bitAt(key: Int32Array, bits: number): 0 | 1 {
  return (((key[bits >>> 5] as number) >>> (31 - (bits & 31))) & 1) as 0 | 1;
}

/** Number of leading bits `node`'s key shares with `key`, capped at `max`. */
function commonBits<T>(node: TrieNode<T>, key: Int32Array, max: number): number {
  for (let i = 0; i < 4; i++) {
    const x = node.word(i) ^ (key[i] as number);
    if (x !== 0) return Math.min(max, 32 * i + Math.clz32(x));
  }
  return max;
}

function toCidr(prefix: Cidr | string): Cidr {
  const cidr = typeof prefix === "string" ? parseCidr(prefix) : prefix;
  const len = cidr.addr.length;
  if (len !== 4 && len !== 16) {
    throw new RangeError(`prefix address must be 4 or 16 bytes, got ${len}`);
  }
  if (!Number.isInteger(cidr.bits) || cidr.bits < 0 || cidr.bits > len * 8) {
    throw new RangeError(`prefix length ${cidr.bits} out of range 0-${len * 8}`);
  }
  return cidr;
}

/**
 * Longest-prefix-match table from IPv4/IPv6 prefixes to values of type `T` (peers).
 * Inserting an existing prefix replaces its value. Host bits in inserted prefixes are masked.
 */
export class AllowedIps<T> {
  #root4: TrieNode<T> | null = null;
  #root6: TrieNode<T> | null = null;
  #byValue = new Map<T, Set<TrieNode<T>>>();
  #size = 0;
  #version = 0;

  /** Number of prefixes in the table. */
  get size(): number {
    return this.#size;
  }

  /**
   * Trie nodes in use, valued or branching (diagnostics). Compaction keeps every valueless node
   * branching, so this never exceeds `2 * size - 1`.
   */
  get nodeCount(): number {
    let n = 0;
    const stack: TrieNode<T>[] = [];
    if (this.#root4 !== null) stack.push(this.#root4);
    if (this.#root6 !== null) stack.push(this.#root6);
    while (stack.length > 0) {
      const node = stack.pop()!;
      n++;
      if (node.child0 !== null) stack.push(node.child0);
      if (node.child1 !== null) stack.push(node.child1);
    }
    return n;
  }

  #root(family: 4 | 6): TrieNode<T> | null {
    return family === 4 ? this.#root4 : this.#root6;
  }

  #setRoot(family: 4 | 6, node: TrieNode<T> | null): void {
    if (node !== null) node.parent = null;
    if (family === 4) this.#root4 = node;
    else this.#root6 = node;
  }

  /** Puts `node` where `parent`'s child `side` (or the root, when `parent` is null) was. */
  #attach(family: 4 | 6, parent: TrieNode<T> | null, side: 0 | 1, node: TrieNode<T> | null) {
    if (parent === null) this.#setRoot(family, node);
    else parent.setChild(side, node);
  }

  #setValue(node: TrieNode<T>, value: T): void {
    if (node.hasValue) {
      if (node.value === value) return;
      this.#unindex(node);
    } else {
      this.#size++;
    }
    node.hasValue = true;
    node.value = value;
    let set = this.#byValue.get(value);
    if (set === undefined) this.#byValue.set(value, set = new Set());
    set.add(node);
  }

  #unindex(node: TrieNode<T>): void {
    const set = this.#byValue.get(node.value as T);
    if (set === undefined) return;
    set.delete(node);
    if (set.size === 0) this.#byValue.delete(node.value as T);
  }

  /** Changes with every insert or removal: a cache of lookups is valid while it stays the same. */
  get version(): number {
    return this.#version;
  }

  /** Routes `prefix` (a {@link Cidr} or text like `"10.0.0.0/8"`) to `value`. */
  insert(prefix: Cidr | string, value: T): void {
    this.#version++;
    const cidr = toCidr(prefix);
    const family = cidr.addr.length === 4 ? 4 : 6;
    const max = cidr.addr.length * 8;
    const key = keyWords(cidr.addr);
    const bits = cidr.bits;
    let parent: TrieNode<T> | null = null;
    let side: 0 | 1 = 0;
    let node = this.#root(family);
    while (node !== null) {
      const common = commonBits(node, key, max);
      if (node.bits <= bits && common >= node.bits) {
        if (node.bits === bits) {
          this.#setValue(node, value);
          return;
        }
        parent = node;
        side = bitAt(key, node.bits);
        node = node.child(side);
        continue;
      }
      // The new prefix leaves the path here: either it is a prefix of `node`, or both hang below a
      // new branching node at their common length.
      const fresh = new TrieNode<T>(family, bits, key);
      this.#setValue(fresh, value);
      const split = Math.min(common, bits);
      if (split === bits) {
        fresh.setChild(node.keyBit(bits), node);
        this.#attach(family, parent, side, fresh);
      } else {
        const branch = new TrieNode<T>(family, split, key);
        branch.setChild(node.keyBit(split), node);
        branch.setChild(bitAt(key, split), fresh);
        this.#attach(family, parent, side, branch);
      }
      return;
    }
    const leaf = new TrieNode<T>(family, bits, key);
    this.#setValue(leaf, value);
    this.#attach(family, parent, side, leaf);
  }

  /** The node holding exactly `cidr` (value or not), or null. */
  #find(cidr: Cidr): TrieNode<T> | null {
    const family = cidr.addr.length === 4 ? 4 : 6;
    const max = cidr.addr.length * 8;
    const key = keyWords(cidr.addr);
    let node = this.#root(family);
    while (node !== null && node.bits <= cidr.bits) {
      if (commonBits(node, key, max) < node.bits) return null;
      if (node.bits === cidr.bits) return node;
      node = node.child(bitAt(key, node.bits));
    }
    return null;
  }

  /** Drops a node's value and removes nodes that no longer carry a value or branch. */
  #removeNode(node: TrieNode<T>): void {
    this.#version++;
    this.#unindex(node);
    node.hasValue = false;
    node.value = undefined;
    this.#size--;
    let cur: TrieNode<T> | null = node;
    while (cur !== null && !cur.hasValue) {
      const parent: TrieNode<T> | null = cur.parent;
      const side: 0 | 1 = parent !== null && parent.child1 === cur ? 1 : 0;
      if (cur.child0 !== null && cur.child1 !== null) return;
      const only: TrieNode<T> | null = cur.child0 ?? cur.child1;
      this.#attach(cur.family, parent, side, only);
      cur.parent = cur.child0 = cur.child1 = null;
      // A parent that lost a child may now be a valueless node with one child: splice it too.
      cur = only === null ? parent : null;
    }
  }

  /**
   * Removes `prefix` (host bits masked). When `value` is given, removes it only if it routes to
   * that value (wireguard-go's `Remove(prefix, peer)`). Returns whether something was removed.
   */
  remove(prefix: Cidr | string, ...owner: [value: T] | []): boolean {
    const cidr = toCidr(prefix);
    const node = this.#find(cidr);
    // #find only compares the first `bits` bits, so an unmasked prefix finds its masked node.
    if (node === null || !node.hasValue) return false;
    if (owner.length === 1 && node.value !== owner[0]) return false;
    this.#removeNode(node);
    return true;
  }

  /** Removes every prefix routed to `value`; returns how many. */
  removeByPeer(value: T): number {
    const set = this.#byValue.get(value);
    if (set === undefined) return 0;
    const nodes = [...set];
    for (const node of nodes) this.#removeNode(node);
    return nodes.length;
  }

  /** Removes everything. */
  clear(): void {
    this.#version++;
    this.#root4 = this.#root6 = null;
    this.#byValue.clear();
    this.#size = 0;
  }

  /** The prefixes routed to `value`, in the order they were first inserted. */
  entriesForPeer(value: T): Cidr[] {
    const set = this.#byValue.get(value);
    return set === undefined ? [] : [...set].map((n) => n.toCidr());
  }

  /** The value routed exactly for `prefix` (not longest match), or undefined. */
  get(prefix: Cidr | string): T | undefined {
    const node = this.#find(toCidr(prefix));
    return node !== null && node.hasValue ? node.value : undefined;
  }

  /** Every entry: IPv4 then IPv6, each in address order, shorter prefix first. */
  entries(): AllowedIpEntry<T>[] {
    const out: AllowedIpEntry<T>[] = [];
    collect(this.#root4, out);
    collect(this.#root6, out);
    return out;
  }

  /** Entries that share any address with `prefix`: those containing it and those inside it. */
  overlapping(prefix: Cidr | string): AllowedIpEntry<T>[] {
    const cidr = toCidr(prefix);
    const max = cidr.addr.length * 8;
    const key = keyWords(cidr.addr);
    const out: AllowedIpEntry<T>[] = [];
    let node = this.#root(cidr.addr.length === 4 ? 4 : 6);
    while (node !== null) {
      const common = commonBits(node, key, max);
      if (node.bits >= cidr.bits) {
        // `node` and everything below it lie inside `prefix` iff they agree on its first bits.
        if (common >= cidr.bits) collect(node, out);
        break;
      }
      if (common < node.bits) break;
      if (node.hasValue) out.push({ cidr: node.toCidr(), value: node.value as T });
      node = node.child(bitAt(key, node.bits));
    }
    return out;
  }

  /** Whether any entry shares an address with `prefix`. */
  overlaps(prefix: Cidr | string): boolean {
    return this.overlapping(prefix).length > 0;
  }

  /**
   * Longest-prefix match for the address in `bytes[offset .. offset+length)` (`length` 4 or 16;
   * anything else matches nothing). Allocation-free; call it per packet.
   */
  lookup(bytes: Uint8Array, offset = 0, length: number = bytes.length - offset): T | undefined {
    if (offset < 0 || offset + length > bytes.length) return undefined;
    const b = bytes;
    const o = offset;
    if (length === 4) {
      return lookupWords(
        this.#root4,
        (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!,
        0,
        0,
        0,
      );
    }
    if (length !== 16) return undefined;
    return lookupWords(
      this.#root6,
      (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!,
      (b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!,
      (b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!,
      (b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!,
    );
  }

  /** Lookup of an IPv4/IPv6 packet's destination (outbound routing); undefined if malformed. */
  lookupDestination(packet: Uint8Array): T | undefined {
    const v = packet.length > 0 ? packet[0]! >> 4 : 0;
    if (v === 4 && packet.length >= 20) return this.lookup(packet, 16, 4);
    if (v === 6 && packet.length >= 40) return this.lookup(packet, 24, 16);
    return undefined;
  }

  /** Lookup of an IPv4/IPv6 packet's source (inbound source check); undefined if malformed. */
  lookupSource(packet: Uint8Array): T | undefined {
    const v = packet.length > 0 ? packet[0]! >> 4 : 0;
    if (v === 4 && packet.length >= 20) return this.lookup(packet, 12, 4);
    if (v === 6 && packet.length >= 40) return this.lookup(packet, 8, 16);
    return undefined;
  }
}

function lookupWords<T>(
  root: TrieNode<T> | null,
  a0: number,
  a1: number,
  a2: number,
  a3: number,
): T | undefined {
  let found: T | undefined = undefined;
  let node = root;
  while (node !== null) {
    if (
      ((a0 ^ node.w0) & node.m0) !== 0 || ((a1 ^ node.w1) & node.m1) !== 0 ||
      ((a2 ^ node.w2) & node.m2) !== 0 || ((a3 ^ node.w3) & node.m3) !== 0
    ) break;
    if (node.hasValue) found = node.value;
    const cw = node.childWord;
    if (cw > 3) break; // full-length prefix: no children
    const w = cw === 0 ? a0 : cw === 1 ? a1 : cw === 2 ? a2 : a3;
    node = ((w >>> node.childShift) & 1) === 0 ? node.child0 : node.child1;
  }
  return found;
}

function collect<T>(root: TrieNode<T> | null, out: AllowedIpEntry<T>[]): void {
  // Iterative pre-order walk: parent (shorter prefix) first, child 0 before child 1.
  const stack: TrieNode<T>[] = [];
  if (root !== null) stack.push(root);
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.hasValue) out.push({ cidr: node.toCidr(), value: node.value as T });
    if (node.child1 !== null) stack.push(node.child1);
    if (node.child0 !== null) stack.push(node.child0);
  }
}

/** Formats a table for debugging: one `prefix -> value` per line. */
export function describeAllowedIps<T>(table: AllowedIps<T>, name: (value: T) => string): string {
  return table.entries().map((e) => `${formatCidr(e.cidr)} -> ${name(e.value)}`).join("\n");
}
