import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./shutdown-child.ts', import.meta.url));

describe('graceful shutdown of "diamonds start" (a real child process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'diamonds-shutdown-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('on SIGTERM: answers the request in flight, ends live streams cleanly, closes and exits 0', async () => {
    const child = fork(CHILD, [], {
      env: { ...process.env, DIAMONDS_DATA_DIR: dataDir, DATABASE_URL: '', PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'development' },
      execArgv: process.execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no address printed: ${output}`)), 60_000);
        const look = () => {
          const match = /running at (http:\/\/\S+) /.exec(output);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        };
        child.stdout!.on('data', look);
        void exited.then((code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      const demo = JSON.parse(readFileSync(join(dataDir, 'demo.json'), 'utf8')) as {
        creator: { userId: string };
        site: { publishableKey: string; origins: string[] };
      };
      const headers = { Authorization: `Bearer ${demo.site.publishableKey}`, Origin: demo.site.origins[0]!.replace(':*', ':5173') };

      // A live stream, open.
      const stream = await fetch(`${url}/v1/live/${demo.creator.userId}/stream`, { headers });
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      await reader.read();
      const streamEnded = (async () => {
        for (;;) {
          const { done } = await reader.read();
          if (done) return 'ended';
        }
      })();

      // A request in flight: its body is still arriving when SIGTERM comes.
      const address = new URL(url);
      const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: address.hostname,
            port: address.port,
            path: '/v1/catalog/gifts',
            method: 'POST',
            headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': '2' },
          },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.write('{');
        setTimeout(() => req.end('}'), 300);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      child.kill('SIGTERM');

      const within = <T>(promise: Promise<T>, what: string) =>
        Promise.race([
          promise,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen: ${output}`)), 20_000)),
        ]);
      const answered = await within(inFlight, 'the answer to the request in flight');
      assert.ok(answered.status > 0 && answered.status < 500, `answered ${answered.status} ${answered.body}`);
      assert.equal(await within(streamEnded, 'the end of the live stream'), 'ended');
      assert.equal(await within(exited, 'the exit'), 0, output);
      assert.match(output, /SIGTERM: finishing requests in flight/);
      assert.match(output, /Stopped cleanly/);
      // Nothing answers any more.
      await assert.rejects(fetch(`${url}/healthz`));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
