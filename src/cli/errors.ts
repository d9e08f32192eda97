/**
 * The CLI's two failure kinds and their exit codes: a usage error (bad flags or arguments, exit
 * 2, one line naming the fix) and a runtime error (bad config, missing permission, exit 1).
 *
 * @module
 */

/** Exit code for a usage error (as BSD `sysexits` and most CLIs use 2). */
export const EXIT_USAGE = 2;
/** Exit code for any other failure. */
export const EXIT_FAILURE = 1;

/** Bad command line: unknown flag or command, missing or malformed value. Exit code 2. */
export class UsageError extends Error {
  /** The command whose `--help` explains the fix (e.g. `"add-peer"`), if any. */
  readonly command: string | undefined;
  /** Creates the error; `message` is one line. */
  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure the user can act on (bad config, permission missing, file unsafe). Exit code 1. */
export class CliError extends Error {
  /** Creates the error; `message` is one line. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
  }
}
