/**
 * Typed errors of the DNS client and message encoder.
 * @module
 */

/** Base class of every DNS error. */
export class DnsError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DnsError";
  }
}

/** A name cannot be encoded: empty label, label over 63 bytes, name over 255 bytes, bad escape. */
export class DnsNameError extends DnsError {
  /** The name as given. */
  readonly input: string;
  /** Creates the error for `input`. */
  constructor(input: string, reason: string) {
    super(`invalid DNS name ${JSON.stringify(input)}: ${reason}`);
    this.name = "DnsNameError";
    this.input = input;
  }
}

/** The name does not exist (NXDOMAIN) or has no A/AAAA address. */
export class DnsNotFoundError extends DnsError {
  /** The name looked up. */
  readonly hostname: string;
  /** Creates the error for `hostname`. */
  constructor(hostname: string, reason = "no such host") {
    super(`lookup ${hostname}: ${reason}`);
    this.name = "DnsNotFoundError";
    this.hostname = hostname;
  }
}

/** No server answered in time. */
export class DnsTimeoutError extends DnsError {
  /** Creates the error. */
  constructor(message = "DNS query timed out") {
    super(message);
    this.name = "DnsTimeoutError";
  }
}

/** Every server failed: SERVFAIL/REFUSED/other rcode, a malformed or mismatched answer. */
export class DnsServerError extends DnsError {
  /** The last response code seen (-1 when the failure was not an rcode). */
  readonly rcode: number;
  /** Creates the error. */
  constructor(message: string, rcode = -1, options?: ErrorOptions) {
    super(message, options);
    this.name = "DnsServerError";
    this.rcode = rcode;
  }
}
