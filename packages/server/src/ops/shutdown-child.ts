// The platform as `diamonds start` runs it, for shutdown.test.ts: the real start command, with
// its signal handlers, in a child process the test sends SIGTERM to. Exits with start's code.
import { main } from '../cli.js';

process.exitCode = await main(['start']);
