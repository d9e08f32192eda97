/**
 * Typed errors of the netstack binding.
 * @module
 */

/** Base class of every netstack error. */
export class NetstackError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NetstackError";
  }
}

/** The connection was reset (RST from the peer, or aborted locally). */
export class ConnectionResetError extends NetstackError {
  /** Creates the error. */
  constructor(message = "connection reset") {
    super(message);
    this.name = "ConnectionResetError";
  }
}

/** The connection or socket is closed. */
export class ClosedError extends NetstackError {
  /** Creates the error. */
  constructor(message = "closed") {
    super(message);
    this.name = "ClosedError";
  }
}

/** A held flow can no longer be accepted (peer cancelled, timed out, or pool full). */
export class FlowCancelledError extends NetstackError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "FlowCancelledError";
  }
}

/** A connection attempt from the stack failed (refused, timed out, or no memory). */
export class ConnectError extends NetstackError {
  /** lwIP error code (negative), when known. */
  readonly code: number;
  /** Creates the error. */
  constructor(message: string, code: number) {
    super(message);
    this.name = "ConnectError";
    this.code = code;
  }
}

/** The stack has been closed. */
export class StackClosedError extends NetstackError {
  /** Creates the error. */
  constructor() {
    super("netstack closed");
    this.name = "StackClosedError";
  }
}

/** The WebAssembly module failed an internal assertion; the stack is unusable. */
export class NetstackFatalError extends NetstackError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NetstackFatalError";
  }
}

/** lwIP err_t names, for messages. */
export function lwipErrorName(code: number): string {
  const names: Record<number, string> = {
    0: "ERR_OK",
    [-1]: "ERR_MEM",
    [-2]: "ERR_BUF",
    [-3]: "ERR_TIMEOUT",
    [-4]: "ERR_RTE",
    [-5]: "ERR_INPROGRESS",
    [-6]: "ERR_VAL",
    [-7]: "ERR_WOULDBLOCK",
    [-8]: "ERR_USE",
    [-9]: "ERR_ALREADY",
    [-10]: "ERR_ISCONN",
    [-11]: "ERR_CONN",
    [-12]: "ERR_IF",
    [-13]: "ERR_ABRT",
    [-14]: "ERR_RST",
    [-15]: "ERR_CLSD",
    [-16]: "ERR_ARG",
  };
  return names[code] ?? `err ${code}`;
}
