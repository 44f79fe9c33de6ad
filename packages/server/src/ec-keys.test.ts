import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { newP256Jwks } from './ec-keys.js';

const here = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);

/**
 * Runs `body` in a child process (from the sources, as the tests run) and fails if it does not
 * finish in `seconds`: a thread that deadlocks on itself can only be caught from outside.
 */
function finishesInAChild(body: string, seconds: number): void {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', body], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    encoding: 'utf8',
    timeout: seconds * 1000,
    env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: '' },
  });
  assert.equal(result.error, undefined, `the child hung (killed after ${seconds} s): ${String(result.error)}\n${result.stderr}`);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^done \d+\n$/);
}

// Node 20 deadlocks a thread that exports a just-generated key object to JWK while a garbage
// collection frees the job that generated it (the job's destructor takes the key's lock, which
// the export holds). A loop of `generateKeyPairSync` + `export({ format: 'jwk' })` hangs within
// a few hundred keys; the suite once hung for 11 minutes on a test fan's DPoP key.
describe('P-256 keys are made without the Node 20 keygen deadlock', () => {
  it('makes a working key pair as JWKs', () => {
    const { privateJwk, publicJwk } = newP256Jwks();
    assert.equal(publicJwk.kty, 'EC');
    assert.equal(publicJwk.crv, 'P-256');
    assert.equal(publicJwk.d, undefined, 'the public JWK has no private part');
    assert.equal(typeof privateJwk.d, 'string');
    const data = Buffer.from('a receipt');
    const signature = sign('sha256', data, createPrivateKey({ key: privateJwk, format: 'jwk' }));
    assert.ok(verify('sha256', data, createPublicKey({ key: publicJwk, format: 'jwk' }), signature));
  });

  it('makes 3,000 test DPoP keys in a row without the thread hanging', () => {
    finishesInAChild(
      `import { newDpopKey } from ${here('./testing/dpop.ts')};
       let n = 0;
       for (; n < 3000; n++) newDpopKey().proof('POST', 'http://127.0.0.1/v1/gifts');
       process.stdout.write('done ' + n + '\\n');`,
      60,
    );
  });
});
