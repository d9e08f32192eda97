import assert from "node:assert/strict";
import {
  AddressPoolFullError,
  addToAddress,
  allocateAddresses,
} from "../../src/cli/address_pool.ts";
import { formatCidr, formatIp, parseCidr, parseIp } from "../../src/wire/ip_address.ts";

const server = ["10.88.0.1/24", "fd88:6e65:7774::1/64"].map((a) => parseCidr(a, { mask: false }));
const take = (...list: string[]) => list.map((a) => parseCidr(a, { allowBare: true }));

Deno.test("addToAddress carries across bytes", () => {
  assert.equal(formatIp(addToAddress(parseIp("10.0.0.255"), 1)), "10.0.1.0");
  assert.equal(formatIp(addToAddress(parseIp("fd00::ffff"), 2)), "fd00::1:1");
  assert.equal(formatIp(addToAddress(parseIp("10.0.0.0"), 65536 + 3)), "10.1.0.3");
});

Deno.test("allocateAddresses: first free per family, skipping the server and taken prefixes", () => {
  assert.deepEqual(allocateAddresses(server, []).map(formatCidr), [
    "10.88.0.2/32",
    "fd88:6e65:7774::2/128",
  ]);
  assert.deepEqual(
    allocateAddresses(server, take("10.88.0.2/31", "10.88.0.4", "fd88:6e65:7774::2")).map(
      formatCidr,
    ),
    ["10.88.0.5/32", "fd88:6e65:7774::3/128"],
  );
  // A server address that is not .1 is still skipped.
  const odd = [parseCidr("192.168.7.2/30", { mask: false })];
  assert.deepEqual(allocateAddresses(odd, []).map(formatCidr), ["192.168.7.1/32"]);
});

Deno.test("allocateAddresses: a full range throws (network and broadcast never handed out)", () => {
  const small = [parseCidr("192.168.7.1/30", { mask: false })];
  assert.deepEqual(allocateAddresses(small, []).map(formatCidr), ["192.168.7.2/32"]);
  assert.throws(() => allocateAddresses(small, take("192.168.7.2")), AddressPoolFullError);
});
