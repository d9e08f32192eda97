/**
 * Where the CLI writes and reads. Program output (client configs, keys, QR codes, `show`) goes
 * to stdout; notes and errors go to stderr next to the log lines. Tests swap in {@link memoryIo}.
 *
 * @module
 */

/** The CLI's streams. */
export interface CliIo {
  /** Writes program output. */
  out(text: string): void;
  /** Writes a note or an error message. */
  err(text: string): void;
  /** Reads all of stdin as text (bounded). */
  readStdin(): Promise<string>;
  /** Whether stdout is a terminal (QR codes get ANSI colors there). */
  readonly stdoutIsTerminal: boolean;
}

/** Most bytes read from stdin: a key is 44 characters; anything huge is a mistake. */
const STDIN_LIMIT = 64 * 1024;

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/** Reads a stream to text, stopping at `limit` bytes. */
export async function readStreamText(
  stream: ReadableStream<Uint8Array>,
  limit = STDIN_LIMIT,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    total += chunk.length;
    if (total >= limit) break;
  }
  const all = new Uint8Array(Math.min(total, limit));
  let off = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.length - off);
    all.set(part, off);
    off += part.length;
  }
  return new TextDecoder().decode(all);
}

/** The process's stdout, stderr and stdin. */
export function processIo(): CliIo {
  return {
    out: (text) => writeAll(Deno.stdout, text),
    err: (text) => {
      try {
        writeAll(Deno.stderr, text);
      } catch {
        // A closed stderr must not turn a message into a crash.
      }
    },
    readStdin: () => readStreamText(Deno.stdin.readable),
    stdoutIsTerminal: Deno.stdout.isTerminal(),
  };
}

/** An in-memory {@link CliIo} for tests: collects output, serves `stdin`. */
export interface MemoryIo extends CliIo {
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** Creates a {@link MemoryIo} whose stdin is `stdin`. */
export function memoryIo(stdin = ""): MemoryIo {
  const io: MemoryIo = {
    stdout: "",
    stderr: "",
    out: (text) => void (io.stdout += text),
    err: (text) => void (io.stderr += text),
    readStdin: () => Promise.resolve(stdin),
    stdoutIsTerminal: false,
  };
  return io;
}
