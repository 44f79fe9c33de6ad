/**
 * Webhook delivery: lag from a gift's commit to a local receiver's 2xx, and deliveries per second.
 *
 *   npm run bench:webhooks
 *
 * For each engine (SQLite as the server opens it, PostgreSQL in a throw-away database) the real
 * platform starts (`startMoneyHarness`: HTTP server, money writer, webhook dispatcher and worker
 * with their defaults) with a creator, their site, 50 fans and one endpoint (`gift.sent`) on a
 * receiver on loopback that answers 200 at once. Then:
 *
 * - `gifts alone`: the same gifts as below with the endpoint disabled, for comparison: the API's
 *   latency without deliveries.
 * - `lag`: `POST /v1/gifts` sent evenly at `BENCH_GIFTS_PER_S` (default 200) for
 *   `BENCH_SECONDS` (default 10), each with its fan's token and DPoP proof (signed just before
 *   the run, not during it). For each gift, the time from its HTTP answer (the commit came
 *   before it: a lower bound of commit → 2xx) and from the moment it was sent (an upper bound)
 *   to the moment the receiver answered the webhook carrying it. The goal is p99 ≤ 1 s. The
 *   gifts' own latency is printed beside: the API while deliveries run.
 * - `throughput`: `BENCH_REPLAY` (default 2000) events replayed at once to the endpoint; the
 *   deliveries per second one process sustains until the last one is answered.
 *
 * The load generator, the receiver and the platform share this process (and the machine's
 * CPU), so the figures are conservative. Bounded in count and time; every database is dropped.
 * A report, not a test: exits 0 whatever the figures, 1 when something crashes.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseKind } from '../src/db/types.js';
import { skipUnlessPostgres } from '../src/testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../src/testing/money.js';
import { createEndpoint, replayEvents, updateEndpoint } from '../src/webhooks/endpoints.js';
import { startReceiver, type WebhookReceiver } from '../src/webhooks/testing.js';

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

const RATE = envNumber('BENCH_GIFTS_PER_S', 200);
const SECONDS = envNumber('BENCH_SECONDS', 10);
const REPLAY = Math.min(envNumber('BENCH_REPLAY', 2000), 10_000);
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',').map((e) => e.trim()) as DatabaseKind[];
/** No phase runs longer than this. */
const PHASE_LIMIT_MS = 120_000;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

interface Sent {
  sentAt: number;
  answeredAt: number;
  giftId: string | undefined;
}

/** Sends gifts evenly at {@link RATE} for {@link SECONDS}; what each request got and when. */
async function sendGifts(h: MoneyHarness, fans: readonly TestFan[]): Promise<{ sent: Sent[]; seconds: number }> {
  const count = Math.round(RATE * SECONDS);
  const url = `${h.server.url}/v1/gifts`;
  const body = JSON.stringify({ creatorId: h.creator.id, giftId: 'rose', quantity: 1 });
  // Proofs signed before the run: fans' devices sign them in real life, not this machine.
  const requests = Array.from({ length: count }, (_, i) => {
    const fan = fans[i % fans.length]!;
    return {
      'Content-Type': 'application/json',
      'Idempotency-Key': `bench-${i}-${Math.random()}`,
      Authorization: `Bearer ${h.site.publishableKey}`,
      Origin: TEST_PAGE_ORIGIN,
      'Diamonds-Token': fan.token,
      DPoP: fan.dpop!.proof('POST', url, fan.token),
    };
  });
  const sent: Sent[] = [];
  const start = performance.now();
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(
      (async () => {
        const sentAt = performance.now();
        const res = await fetch(url, { method: 'POST', headers: requests[i], body });
        const json = (await res.json()) as { id?: string };
        sent.push({ sentAt, answeredAt: performance.now(), giftId: res.status === 201 ? json.id : undefined });
      })(),
    );
  }
  await Promise.all(inFlight);
  return { sent, seconds: (performance.now() - start) / 1000 };
}

async function lagPhase(h: MoneyHarness, receiver: WebhookReceiver, endpointId: string): Promise<void> {
  const fans = await Promise.all(Array.from({ length: 50 }, () => h.fan({ allowance: 1_000_000_000, balance: 1_000_000_000 })));
  // The same gifts with no endpoint to deliver to: the API's own figures, to compare with.
  await updateEndpoint(h.t.db, h.site.id, endpointId, { enabled: false });
  const baseline = await sendGifts(h, fans);
  const alone = baseline.sent.map((s) => s.answeredAt - s.sentAt);
  console.log(
    `  gifts alone (no endpoint): ${baseline.sent.length} at ${RATE}/s sent in ${baseline.seconds.toFixed(1)} s, p50 ${ms(percentile(alone, 0.5))}, p99 ${ms(percentile(alone, 0.99))}`,
  );
  await updateEndpoint(h.t.db, h.site.id, endpointId, { enabled: true });
  /** When the receiver answered each gift's webhook, by gift id. */
  const answered = new Map<string, number>();
  receiver.on('/lag', (request, _count, res) => {
    res.writeHead(200).end('ok');
    const giftId = (JSON.parse(request.body) as { data?: { giftId?: string } }).data?.giftId;
    if (giftId) answered.set(giftId, performance.now());
  });
  const { sent, seconds: sendSeconds } = await sendGifts(h, fans);
  const count = sent.length;
  const ok = sent.filter((s) => s.giftId !== undefined);
  const deadline = performance.now() + PHASE_LIMIT_MS;
  while (ok.some((s) => !answered.has(s.giftId!)) && performance.now() < deadline) await sleep(20);
  const delivered = ok.filter((s) => answered.has(s.giftId!));
  const fromAnswer = delivered.map((s) => answered.get(s.giftId!)! - s.answeredAt);
  const fromSend = delivered.map((s) => answered.get(s.giftId!)! - s.sentAt);
  const giftLatency = sent.map((s) => s.answeredAt - s.sentAt);
  console.log(
    `  lag: ${count} gifts at ${RATE}/s sent in ${sendSeconds.toFixed(1)} s, ${ok.length} answered 201, ${delivered.length} delivered`,
  );
  console.log(
    `    commit → receiver 2xx, from the gift's answer (lower bound): p50 ${ms(percentile(fromAnswer, 0.5))}, p99 ${ms(percentile(fromAnswer, 0.99))}, max ${ms(Math.max(...fromAnswer))}`,
  );
  console.log(
    `    from the gift's request (upper bound): p50 ${ms(percentile(fromSend, 0.5))}, p99 ${ms(percentile(fromSend, 0.99))}  (goal p99 ≤ 1000 ms: ${percentile(fromSend, 0.99) <= 1000 ? 'met' : 'NOT met'})`,
  );
  console.log(
    `    the gifts themselves while deliveries run: p50 ${ms(percentile(giftLatency, 0.5))}, p99 ${ms(percentile(giftLatency, 0.99))}`,
  );
}

async function throughputPhase(h: MoneyHarness, receiver: WebhookReceiver, since: number): Promise<void> {
  const { endpoint } = await createEndpoint(
    h.t.db,
    h.site.id,
    { url: `${receiver.url}/burst`, eventTypes: ['gift.sent'] },
    { production: false },
  );
  let got = 0;
  let last = 0;
  receiver.on('/burst', (_request, _count, res) => {
    res.writeHead(200).end('ok');
    got++;
    last = performance.now();
  });
  const start = performance.now();
  let queued = 0;
  let from = since;
  while (queued < REPLAY) {
    const replay = await replayEvents(h.t.db, h.site.id, endpoint.id, { since: from });
    queued += replay.queued;
    if (!replay.hasMore || replay.queued === 0) break;
    const [row] = await h.t.db.query<{ created_at: number }>('SELECT created_at FROM events WHERE id = ?', [replay.lastEventId]);
    from = Number(row?.created_at ?? Date.now()) + 1;
  }
  const deadline = performance.now() + PHASE_LIMIT_MS;
  while (got < queued && performance.now() < deadline) await sleep(20);
  const seconds = (last - start) / 1000;
  console.log(
    `  throughput: ${queued} deliveries queued at once, ${got} answered in ${seconds.toFixed(2)} s: ${(got / seconds).toFixed(0)} deliveries/s`,
  );
}

async function main(): Promise<void> {
  console.log(
    `bench:webhooks  (load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, node ${process.version})`,
  );
  for (const kind of ENGINES) {
    // PostgreSQL's figures only where it answers: skipped, and said so, when it does not (a report, not a test).
    if (await skipUnlessPostgres(kind)) continue;
    console.log(`\n${kind}`);
    const receiver = await startReceiver();
    const h = await startMoneyHarness(kind);
    try {
      const { endpoint } = await createEndpoint(
        h.t.db,
        h.site.id,
        { url: `${receiver.url}/lag`, eventTypes: ['gift.sent'] },
        { production: false },
      );
      const since = Date.now();
      await lagPhase(h, receiver, endpoint.id);
      await throughputPhase(h, receiver, since);
      await h.verifyClean();
    } finally {
      await h.close();
      await receiver.close();
    }
  }
  console.log(
    `\nload after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
