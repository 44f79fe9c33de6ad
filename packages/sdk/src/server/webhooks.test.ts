// verifyWebhook against the Standard Webhooks reference library (`standardwebhooks`, the package
// the platform signs with): its signatures verify here, ours verify there, and every way a request
// can be wrong is refused with its own error class and reason. No database is involved.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { newId } from '@diamonds/protocol';
import { Webhook } from 'standardwebhooks';
import {
  DiamondsError,
  DiamondsUsageError,
  isWebhookVerificationError,
  signWebhook,
  verifyWebhook,
  WebhookHeaderError,
  WebhookPayloadError,
  WebhookSignatureError,
  WebhookTimestampError,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from './index.js';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const SECRET = newSecret();

function orderEvent(type: 'order.paid' | 'order.refunded' = 'order.paid') {
  const base = {
    object: 'event',
    id: newId('evt'),
    createdAt: Date.now(),
    fanId: newId('usr'),
    siteId: newId('site'),
    creatorId: newId('usr'),
  };
  return type === 'order.paid'
    ? { ...base, type, data: { orderId: newId('ord'), amountDiamonds: 900, transferId: newId('txn'), reference: 'inv-77' } }
    : { ...base, type, data: { orderId: newId('ord'), amountDiamonds: 900, refundTransferId: newId('txn'), reference: null } };
}

/** Headers the reference library makes for `body`, signed `ageSeconds` ago. */
function librarySigned(body: string | Buffer, secret = SECRET, id: string = newId('evt'), ageSeconds = 0): Record<string, string> {
  const timestamp = new Date(Date.now() - ageSeconds * 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, timestamp, body),
  };
}

/** Asserts `promise` rejects with `Class` and `reason`, and everything a caller switches on. */
async function refused(
  promise: Promise<unknown>,
  Class: new (...args: never[]) => WebhookVerificationError,
  reason: WebhookVerificationReason,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof Class, `${String(error)} is not a ${Class.name}`);
    assert.ok(error instanceof WebhookVerificationError);
    assert.ok(error instanceof DiamondsError);
    assert.ok(isWebhookVerificationError(error));
    assert.equal(error.code, 'invalid_webhook');
    assert.equal(error.reason, reason, error.message);
    assert.equal(error.name, Class.name);
    return true;
  });
}

describe('verifyWebhook', () => {
  it('returns the typed event of a delivery the standardwebhooks library signed, whatever the body and header forms', async () => {
    const event = orderEvent();
    const body = JSON.stringify(event);
    const headers = librarySigned(body, SECRET, event.id);
    const shouting = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    const asBuffer = Buffer.from(body);
    const asArrayBuffer = asBuffer.buffer.slice(asBuffer.byteOffset, asBuffer.byteOffset + asBuffer.byteLength);
    for (const [rawBody, headerForm] of [
      [body, headers],
      [asBuffer, new Headers(headers)],
      [new Uint8Array(asBuffer), shouting],
      [asArrayBuffer, headers],
    ] as const) {
      const verified = await verifyWebhook(rawBody, headerForm, SECRET);
      assert.deepEqual(verified, event);
      assert.equal(verified.type, 'order.paid');
      if (verified.type === 'order.paid') assert.equal(verified.data.reference, 'inv-77'); // typed by the union
    }
  });

  it("reads Node's IncomingHttpHeaders off a real request, a signature header sent twice included", async () => {
    const event = orderEvent('order.refunded');
    const body = JSON.stringify(event);
    const headers = librarySigned(body, SECRET, event.id);
    const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
      // A proxy that splits the roll's two signatures into two header lines.
      const split = new Headers({ 'webhook-id': headers['webhook-id']!, 'webhook-timestamp': headers['webhook-timestamp']! });
      split.append('webhook-signature', `v1,${Buffer.alloc(32).toString('base64')}`);
      split.append('webhook-signature', headers['webhook-signature']!);
      await fetch(url, { method: 'POST', headers: split, body });
      // The same with the good signature first: Node joins the two lines with ", ".
      const first = new Headers({ 'webhook-id': headers['webhook-id']!, 'webhook-timestamp': headers['webhook-timestamp']! });
      first.append('webhook-signature', headers['webhook-signature']!);
      first.append('webhook-signature', `v1,${Buffer.alloc(32).toString('base64')}`);
      await fetch(url, { method: 'POST', headers: first, body });
    } finally {
      server.close();
    }
    assert.equal(received.length, 3);
    assert.match(String(received[2]!.headers['webhook-signature']), /^v1,\S+=, v1,/, 'joined by Node with ", "');
    for (const request of received) assert.deepEqual(await verifyWebhook(request.body, request.headers, SECRET), event);
  });

  it('signs what the library verifies, byte for byte the signature the library makes', async () => {
    const event = orderEvent();
    const body = JSON.stringify(event);
    const timestampMs = Date.now();
    const headers = await signWebhook(body, SECRET, { id: event.id, timestampMs });
    assert.deepEqual(new Webhook(SECRET).verify(body, { ...headers }), event);
    assert.equal(headers['webhook-signature'], new Webhook(SECRET).sign(event.id, new Date(timestampMs), body));
    assert.deepEqual(await verifyWebhook(body, headers, SECRET), event);
  });

  it('agrees with the library on any body, id, secret and single-byte change (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.nat(),
        async (bodyBytes, id, secretBytes, flipAt) => {
          const secret = `whsec_${Buffer.from(secretBytes).toString('base64')}`;
          const body = Buffer.from(bodyBytes);
          const theirs = librarySigned(body, secret, id);
          const ours = await signWebhook(body, secret, { id, timestampMs: Number(theirs['webhook-timestamp']) * 1000 });
          assert.equal(ours['webhook-signature'], theirs['webhook-signature']);
          // A genuine signature gets past the signature check: only the payload (random bytes, not an event) is refused.
          await refused(verifyWebhook(body, theirs, secret), WebhookPayloadError, 'malformed_payload');
          if (body.length > 0) {
            const changed = Buffer.from(body);
            changed[flipAt % body.length]! ^= 1 << (flipAt % 8);
            await refused(verifyWebhook(changed, theirs, secret), WebhookSignatureError, 'bad_signature');
            assert.throws(() => new Webhook(secret).verify(changed, theirs));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('accepts either of the two signatures sent during a secret roll, and either of two secrets of yours', async () => {
    const [oldSecret, newSecretValue, other] = [newSecret(), newSecret(), newSecret()];
    const event = orderEvent();
    const body = JSON.stringify(event);
    const timestamp = new Date();
    const header = (secrets: string[]) => ({
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(event.id, timestamp, body)).join(' '),
    });
    const rolled = header([newSecretValue, oldSecret]);
    assert.deepEqual(await verifyWebhook(body, rolled, oldSecret), event);
    assert.deepEqual(await verifyWebhook(body, rolled, newSecretValue), event);
    assert.deepEqual(new Webhook(oldSecret).verify(body, rolled), event, 'the library reads the same header');
    await refused(verifyWebhook(body, rolled, other), WebhookSignatureError, 'bad_signature');
    assert.deepEqual(await verifyWebhook(body, header([newSecretValue]), [oldSecret, newSecretValue]), event);
    // An unknown scheme next to v1 is ignored, not an error.
    const withV1a = { ...rolled, 'webhook-signature': `v1a,${Buffer.alloc(64).toString('base64')} ${rolled['webhook-signature']}` };
    assert.deepEqual(await verifyWebhook(body, withV1a, oldSecret), event);
  });

  it('refuses a forged or changed delivery as bad_signature', async () => {
    const event = orderEvent();
    const body = JSON.stringify(event);
    const headers = librarySigned(body, SECRET, event.id);
    const cases: [string, string, Record<string, string>, string][] = [
      ['another secret', body, headers, newSecret()],
      ['the amount changed', body.replace('"amountDiamonds":900', '"amountDiamonds":9000'), headers, SECRET],
      ['parsed and printed again', JSON.stringify(event, null, 2), headers, SECRET],
      ['another id', body, { ...headers, 'webhook-id': newId('evt') }, SECRET],
      ['another timestamp', body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }, SECRET],
      ['no v1 signature', body, { ...headers, 'webhook-signature': headers['webhook-signature']!.replace('v1,', 'v2,') }, SECRET],
      ['a signature cut short', body, { ...headers, 'webhook-signature': headers['webhook-signature']!.slice(0, 20) }, SECRET],
      ['garbage', body, { ...headers, 'webhook-signature': 'v1,!!!' }, SECRET],
    ];
    for (const [, rawBody, headerSet, secret] of cases) {
      await refused(verifyWebhook(rawBody, headerSet, secret), WebhookSignatureError, 'bad_signature');
    }
  });

  it('refuses a timestamp beyond 5 minutes either way, and takes a tolerance and a clock', async () => {
    const event = orderEvent();
    const body = JSON.stringify(event);
    assert.deepEqual(await verifyWebhook(body, librarySigned(body, SECRET, event.id, 290), SECRET), event);
    assert.deepEqual(await verifyWebhook(body, librarySigned(body, SECRET, event.id, -290), SECRET), event);
    await refused(verifyWebhook(body, librarySigned(body, SECRET, event.id, 310), SECRET), WebhookTimestampError, 'stale_timestamp');
    await refused(verifyWebhook(body, librarySigned(body, SECRET, event.id, -310), SECRET), WebhookTimestampError, 'future_timestamp');
    const headers = librarySigned(body, SECRET, event.id, 0);
    const signedAtMs = Number(headers['webhook-timestamp']) * 1000;
    const later = { nowMs: signedAtMs + 61_000, toleranceSeconds: 60 };
    await refused(verifyWebhook(body, headers, SECRET, later), WebhookTimestampError, 'stale_timestamp');
    assert.deepEqual(await verifyWebhook(body, headers, SECRET, { nowMs: signedAtMs + 3_600_000, toleranceSeconds: 3_600 }), event);
    // A stale timestamp with a forged signature is a forgery first.
    await refused(verifyWebhook(body, librarySigned(body, newSecret(), event.id, 3_600), SECRET), WebhookSignatureError, 'bad_signature');
  });

  it('refuses a missing, empty, repeated or malformed header', async () => {
    const event = orderEvent();
    const body = JSON.stringify(event);
    const headers = librarySigned(body, SECRET, event.id);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const without = { ...headers };
      delete without[name];
      await refused(verifyWebhook(body, without, SECRET), WebhookHeaderError, 'missing_header');
      await refused(verifyWebhook(body, { ...headers, [name]: ' ' }, SECRET), WebhookHeaderError, 'missing_header');
      await refused(verifyWebhook(body, new Headers(without), SECRET), WebhookHeaderError, 'missing_header');
    }
    await refused(verifyWebhook(body, {}, SECRET), WebhookHeaderError, 'missing_header');
    await refused(
      verifyWebhook(body, { ...headers, 'webhook-id': [event.id, newId('evt')] }, SECRET),
      WebhookHeaderError,
      'malformed_header',
    );
    for (const timestamp of ['soon', '1.5e9', '-1', '17000000000000']) {
      await refused(verifyWebhook(body, { ...headers, 'webhook-timestamp': timestamp }, SECRET), WebhookHeaderError, 'malformed_header');
    }
  });

  it('refuses a parsed body, a signed body that is not an event, and an event of another shape', async () => {
    const event = orderEvent();
    const body = JSON.stringify(event);
    const headers = librarySigned(body, SECRET, event.id);
    await refused(verifyWebhook(event as never, headers, SECRET), WebhookPayloadError, 'malformed_payload');
    for (const signedBody of ['', 'not json', '{"hello":"world"}', JSON.stringify({ ...event, type: 'order.teleported' })]) {
      await refused(verifyWebhook(signedBody, librarySigned(signedBody, SECRET), SECRET), WebhookPayloadError, 'malformed_payload');
    }
    const negative = JSON.stringify({ ...event, data: { ...event.data, amountDiamonds: -5 } });
    await refused(verifyWebhook(negative, librarySigned(negative, SECRET), SECRET), WebhookPayloadError, 'malformed_payload');
  });

  it('refuses a secret that is not a signing secret as a usage error, before reading the request', async () => {
    const body = JSON.stringify(orderEvent());
    for (const secret of ['', 'whsec_', 'whsec_not base64!', 'sk_test_' + 'a'.repeat(32), 'whsec_c2hvcnQ=', [] as string[]]) {
      await assert.rejects(verifyWebhook(body, librarySigned(body), secret), (error: unknown) => {
        assert.ok(error instanceof DiamondsUsageError, String(error));
        assert.equal(error.code, 'invalid_option');
        return true;
      });
    }
    // A bare base64 secret (without the prefix) is the same key, as in the library.
    const event = orderEvent();
    const signed = JSON.stringify(event);
    assert.deepEqual(await verifyWebhook(signed, librarySigned(signed), SECRET.slice('whsec_'.length)), event);
  });

  it('recognises its errors from another copy of the SDK by their fields', () => {
    const copy = Object.assign(new Error('x'), { name: 'WebhookSignatureError', code: 'invalid_webhook', reason: 'bad_signature' });
    assert.ok(isWebhookVerificationError(copy));
    assert.ok(!isWebhookVerificationError({ ...copy, reason: 'nope' }));
    assert.ok(!isWebhookVerificationError(new Error('bad signature')));
  });
});
