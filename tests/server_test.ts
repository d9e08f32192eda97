import assert from "node:assert/strict";
import {
  INBOUND_LOSS_WARN_FRACTION,
  INBOUND_LOSS_WARN_MIN_MESSAGES,
  inboundLossWorthWarning,
} from "../src/server.ts";

Deno.test("inboundLossWorthWarning: from 5% of at least 1,000 messages in a check", () => {
  assert.equal(INBOUND_LOSS_WARN_FRACTION, 0.05);
  assert.equal(INBOUND_LOSS_WARN_MIN_MESSAGES, 1000);
  assert.ok(inboundLossWorthWarning(50, 950)); // exactly 5% of 1,000
  assert.ok(!inboundLossWorthWarning(49, 951)); // just under 5%
  assert.ok(!inboundLossWorthWarning(40, 900)); // 4.3% of 940
  assert.ok(!inboundLossWorthWarning(49, 900)); // 5.2%, but only 949 sent
  assert.ok(inboundLossWorthWarning(140_000, 860_000)); // the soak's 14%
  assert.ok(!inboundLossWorthWarning(-3, 2000)); // late arrivals of the previous check
  assert.ok(!inboundLossWorthWarning(0, 0));
});
