/** Runs the CLI as a process would (mod.ts does the same); for subprocess tests. */
import { main } from "../../src/cli/main.ts";

Deno.exit(await main(Deno.args));
