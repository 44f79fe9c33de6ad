import { Hono, type Context } from 'hono';
import { z } from 'zod';
import {
  DiamondAmount,
  LiveGoal,
  LiveSessionState,
  LiveSnapshot,
  MAX_TRANSFER_DIAMONDS,
  SetLiveGoal,
  StartLiveSession,
  type LiveGift,
} from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { exampleId, idParam, routesOn } from '../http/route.js';
import { clientIp } from '../pages/auth.js';
import { currentGoal, LIVE_REPLAY_MS, liveSessionOf, topGiftersOf } from './fold.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { canTakeOverConnection, takeOverConnection } from '../http/socket-takeover.js';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { isTestAlert, MAX_UNSENT_BYTES, rowData, sseMessage, type LiveHub } from './hub.js';
import { endLiveOperation, setGoalOperation, startLiveOperation } from './live.js';
import { findSite } from '../identity/sites.js';

const CREATOR_PARAM = { creatorId: idParam('usr', 'The creator’s id, `usr_…`.') };

/** How long a client waits before reconnecting a dropped stream (the SSE `retry` field). */
export const RECONNECT_MS = 3_000;

/** Refused streams (too many from one address) are told to come back after this many seconds. */
const STREAM_RETRY_AFTER_S = 30;

async function requireCreator(db: SqlClient, creatorId: string): Promise<void> {
  const [user] = await db.query<{ is_creator: number | boolean }>('SELECT is_creator FROM users WHERE id = ?', [creatorId]);
  if (!user || Number(user.is_creator) !== 1) {
    throw new ApiError('creator_not_found', `No creator ${creatorId}.`, { param: 'creatorId' });
  }
}

/**
 * The body of `PUT /v1/live/goal`, with the target refused by the codes a client already
 * switches on for amounts: `invalid_amount` (0, -1, 1.5, "10"), `amount_too_large`.
 */
function validateSetLiveGoal(body: unknown): SetLiveGoal {
  const target = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).targetDiamonds : undefined;
  if (target !== undefined && !DiamondAmount.safeParse(target).success) {
    const tooLarge = typeof target === 'number' && Number.isSafeInteger(target) && target > MAX_TRANSFER_DIAMONDS;
    throw new ApiError(
      tooLarge ? 'amount_too_large' : 'invalid_amount',
      tooLarge
        ? `targetDiamonds may be at most ${MAX_TRANSFER_DIAMONDS} Diamonds.`
        : 'targetDiamonds must be a whole number of Diamonds from 1 (a JSON number, not a string).',
      { param: 'targetDiamonds' },
    );
  }
  return validate(SetLiveGoal, body);
}

/** The latest gifts of the feed (within the replay window), oldest first, as `baseUrl`'s clients see them. */
async function recentGifts(db: SqlClient, creatorId: string, baseUrl: string, now: number): Promise<LiveGift[]> {
  // A site's page never shows the creator's test alerts (those are for the overlay).
  const rows = await db.query<{ data: string }>(
    `SELECT data FROM live_feed WHERE creator_id = ? AND kind = 'gift' AND created_at >= ? ORDER BY seq DESC LIMIT 20`,
    [creatorId, now - LIVE_REPLAY_MS],
  );
  return rows
    .filter((row) => !isTestAlert({ kind: 'gift', data: row.data }))
    .reverse()
    .map((row) => JSON.parse(rowData({ kind: 'gift', data: row.data }, baseUrl)) as LiveGift);
}

/** What a creator's live shows now. */
export async function liveSnapshot(db: SqlClient, creatorId: string, baseUrl: string, now: number): Promise<LiveSnapshot> {
  const [session, goal, topGifters, gifts] = await Promise.all([
    liveSessionOf(db, creatorId),
    currentGoal(db, creatorId),
    topGiftersOf(db, creatorId, now),
    recentGifts(db, creatorId, baseUrl, now),
  ]);
  return {
    object: 'live',
    creatorId: creatorId as LiveSnapshot['creatorId'],
    session: session
      ? { sessionId: session.sessionId, status: session.status, title: session.title, startedAt: session.startedAt, endedAt: null }
      : null,
    goal: goal ?? null,
    topGifters,
    recentGifts: gifts,
  };
}

/** The `Last-Event-ID` a reconnecting client sends (header, or `lastEventId` in the query for clients that cannot set it). */
function lastEventId(c: Context<AppEnv>): number | undefined {
  const text = c.req.header('Last-Event-ID') ?? c.req.query('lastEventId');
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Subscribes a client's connection to `hub` and sends it `head()` (the response's headers) and
 * `opening`: false, with nothing sent, when the address holds too many streams.
 *
 * @remarks The connection is taken from Node's HTTP server (see {@link takeOverConnection}):
 * a stream then keeps only its socket, and each message is one write to it. Where that cannot
 * be done it streams through Node's response, the same bytes chunked. Either way no web stream
 * and no promise per message, which is what holding thousands of streams in one process costs
 * most. The closures are made in functions of their own so that what a stream keeps for its life
 * is only what they use: made in the route's function, they kept its scope, and with it the
 * opening text, which grows with the top-gifter lists.
 */
function streamToNode(incoming: IncomingMessage, outgoing: ServerResponse, hub: LiveHub, start: StreamStart): boolean {
  if (!canTakeOverConnection(incoming, outgoing)) return streamToNodeResponse(outgoing, hub, start);
  const connection: { socket?: Socket } = {};
  const stop = subscribeSocket(connection, hub, start.params);
  if (!stop) return false;
  const socket = takeOverConnection(incoming, outgoing, 200, start.head(), start.opening);
  if (!socket) {
    // A header Node would refuse too: Node's response refuses it as it would on any route.
    stop();
    return streamToNodeResponse(outgoing, hub, start);
  }
  connection.socket = socket;
  socket.on('close', stop);
  start.onOpen?.({
    end: () => {
      stop();
      socket.destroySoon();
    },
    onClose: (listener) => socket.on('close', listener),
  });
  return true;
}

/** A live stream written straight to a client's connection, for who follows it (the overlay's). */
export interface OpenStream {
  /** Ends it: what is queued is sent, then the connection closes. */
  end(): void;
  /** Calls `listener` once the connection is closed, by either side. */
  onClose(listener: () => void): void;
}

/** The stream's parameters for {@link LiveHub.subscribe}. */
interface StreamParams {
  creatorId: string;
  address: string;
  baseUrl: string;
  lastSeq: number | undefined;
  includeTests: boolean;
}

/** How a stream starts: what it subscribes to, the response's headers, its first text, and who follows it. */
interface StreamStart {
  params: StreamParams;
  head: () => Record<string, string>;
  opening: string;
  onOpen: ((stream: OpenStream) => void) | undefined;
}

/** {@link streamToNode} on a taken-over socket; `connection.socket` is set once the head is sent. */
function subscribeSocket(connection: { socket?: Socket }, hub: LiveHub, stream: StreamParams): (() => void) | undefined {
  const stop = hub.subscribe({
    ...stream,
    send: (bytes) => {
      const socket = connection.socket;
      if (!socket || socket.destroyed) return false;
      socket.write(bytes);
      return socket.writableLength > MAX_UNSENT_BYTES;
    },
    close: () => {
      stop?.();
      const socket = connection.socket;
      if (!socket || socket.destroyed) return;
      // A client too slow to take what is queued is cut; any other gets the rest, then the end.
      if (socket.writableLength > MAX_UNSENT_BYTES) socket.destroy();
      else socket.destroySoon();
    },
  });
  return stop;
}

/** {@link streamToNode} through Node's response, when the connection cannot be taken over. */
function streamToNodeResponse(outgoing: ServerResponse, hub: LiveHub, start: StreamStart): boolean {
  let closed = false;
  const stop = hub.subscribe({
    ...start.params,
    send: (bytes) => {
      if (closed) return false;
      outgoing.write(bytes);
      return outgoing.writableLength > MAX_UNSENT_BYTES;
    },
    close: () => {
      if (closed) return;
      closed = true;
      stop?.();
      outgoing.end();
    },
  });
  if (!stop) return false;
  outgoing.writeHead(200, start.head());
  outgoing.write(start.opening);
  outgoing.on('close', () => {
    closed = true;
    stop();
  });
  start.onOpen?.({ end: () => outgoing.end(), onClose: (listener) => outgoing.on('close', listener) });
  return true;
}

/**
 * A creator's live stream as a `text/event-stream` response on `hub`: the retry delay, what is
 * live now (session, goal, top gifters: no ids), the items missed since `Last-Event-ID` within
 * the last hour, then each new item as it commits, with a heartbeat every 15 s.
 *
 * @throws {@link ApiError} `rate_limited` when the address holds too many streams, `service_unavailable` without a hub.
 */
export async function openLiveStream(
  c: Context<AppEnv>,
  context: AppContext,
  hub: LiveHub | undefined,
  creatorId: string,
  options: {
    includeTests?: boolean;
    /** Called once the stream is open on Node's server (not when the app is called directly, whose stream is the response's body). */
    onOpen?: (stream: OpenStream) => void;
  } = {},
): Promise<Response> {
  if (!hub) throw new ApiError('service_unavailable', 'Live streams are not running on this server process; try again shortly.');
  const baseUrl = publicBaseUrl(c, context.settings);
  const now = context.earnings.now();
  const snapshot = await liveSnapshot(context.db, creatorId, baseUrl, now);
  const headers = {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    // Proxies (nginx) must pass each message on at once, not buffer the stream.
    'X-Accel-Buffering': 'no',
  };
  let opening = `retry: ${RECONNECT_MS}\n\n`;
  if (snapshot.session) opening += sseMessage('session', JSON.stringify(snapshot.session));
  if (snapshot.goal) opening += sseMessage('goal', JSON.stringify(snapshot.goal));
  for (const list of snapshot.topGifters) opening += sseMessage('top_gifters', JSON.stringify(list));
  const address = clientIp(c);
  const lastSeq = lastEventId(c);
  const { incoming, outgoing } = (c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined) ?? {};
  if (incoming && outgoing) {
    const start: StreamStart = {
      params: { creatorId, address, baseUrl, lastSeq, includeTests: options.includeTests === true },
      // The headers the middleware prepared (request id, CORS), with the stream's own.
      head: () => ({ ...Object.fromEntries(c.body(null, 200).headers), ...headers }),
      opening,
      onOpen: options.onOpen,
    };
    if (!streamToNode(incoming, outgoing, hub, start)) {
      throw new ApiError('rate_limited', 'Too many live streams from this address; close some and try again.');
    }
    return RESPONSE_ALREADY_SENT;
  }
  // Without Node's response (the app called directly, as in a test): a web stream.
  const encoder = new TextEncoder();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let closed = false;
  const subscription: { stop?: (() => void) | undefined } = {};
  const body = new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      controller.enqueue(encoder.encode(opening));
    },
    cancel() {
      closed = true;
      subscription.stop?.();
    },
  });
  subscription.stop = hub.subscribe({
    creatorId,
    address,
    baseUrl,
    lastSeq,
    includeTests: options.includeTests === true,
    send: (bytes) => {
      if (closed || !controller) return false;
      controller.enqueue(bytes);
      return -(controller.desiredSize ?? 0) > 1000;
    },
    close: () => {
      if (closed) return;
      closed = true;
      subscription.stop?.();
      controller?.close();
    },
  });
  if (!subscription.stop) throw new ApiError('rate_limited', 'Too many live streams from this address; close some and try again.');
  return new Response(body, { status: 200, headers });
}

/**
 * `GET /v1/live/{creatorId}` and `GET /v1/live/{creatorId}/stream`: a creator's live, for any
 * page of a site (publishable key; `?key=pk_…` for `EventSource`, which cannot send headers).
 */
export function liveApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);
  route(
    {
      method: 'get',
      path: '/live/{creatorId}',
      operationId: 'getLive',
      summary: 'What a creator’s live shows now',
      description:
        'The session live now, the goal, the top gifters (session, today, all time) and the latest gifts of the last hour: a first render before the stream connects.',
      tag: 'Live',
      auth: 'publishable',
      params: CREATOR_PARAM,
      responses: {
        200: {
          description: 'The live now.',
          schema: LiveSnapshot,
          example: { object: 'live', creatorId: exampleId('usr'), session: null, goal: null, topGifters: [], recentGifts: [] },
        },
      },
      errors: ['creator_not_found'],
    },
    async (c, { params: { creatorId } }) => {
      await requireCreator(context.db, creatorId);
      return c.json(await liveSnapshot(context.db, creatorId, publicBaseUrl(c, context.settings), context.earnings.now()));
    },
  );
  route(
    {
      method: 'get',
      path: '/live/{creatorId}/stream',
      operationId: 'streamLive',
      summary: 'A creator’s live stream (Server-Sent Events)',
      description:
        'A `text/event-stream` of the creator’s live: `event: gift` (with the combo count), `goal`, `top_gifters`, `session`. ' +
        'It opens with what is live now (no `id`); each item after has an `id`: reconnect with `Last-Event-ID` (as `EventSource` does) and the items missed within the last hour come first. ' +
        'A comment line every 15 s keeps proxies from closing it. At most 20 streams per address (`rate_limited`, with `Retry-After`). See docs/live.md.',
      tag: 'Live',
      auth: 'publishable',
      params: CREATOR_PARAM,
      responses: { 200: { description: 'The stream.', schema: z.string(), contentType: 'text/event-stream' } },
      errors: ['creator_not_found', 'rate_limited'],
    },
    async (c, { params: { creatorId } }) => {
      await requireCreator(context.db, creatorId);
      try {
        return await openLiveStream(c, context, context.live.hub, creatorId);
      } catch (error) {
        if (error instanceof ApiError && error.code === 'rate_limited') c.header('Retry-After', String(STREAM_RETRY_AFTER_S));
        throw error;
      }
    },
  );
  /** The site owner: the creator a secret key goes live for. */
  const ownerOf = async (siteId: string): Promise<string> => {
    const site = await findSite(context.db, siteId);
    if (!site) throw new ApiError('site_not_found', 'The key’s site is gone.');
    return site.ownerId;
  };
  const exampleSession: LiveSessionState = {
    sessionId: exampleId('ls'),
    status: 'live',
    title: 'Friday jam',
    startedAt: 1767225600000,
    endedAt: null,
  };
  route(
    {
      method: 'post',
      path: '/live/session',
      operationId: 'startLiveSession',
      summary: 'Go live',
      description:
        'With the secret key, from the site’s backend: starts a live session of the site’s owner (gifts from now on count for it; the streams get `event: session`). Starting while one is live answers that one.',
      tag: 'Live',
      auth: 'secret',
      body: StartLiveSession,
      bodyExample: { title: 'Friday jam' },
      responses: { 200: { description: 'The session live now.', schema: LiveSessionState, example: exampleSession } },
    },
    async (c, { caller: { siteId }, body }) =>
      c.json(
        await context.writer.run(startLiveOperation, { creatorId: await ownerOf(siteId), title: body.title, now: context.earnings.now() }),
      ),
  );
  route(
    {
      method: 'delete',
      path: '/live/session',
      operationId: 'endLiveSession',
      summary: 'End the live session',
      description: 'With the secret key: ends the site owner’s live session; `204` when none was live (ending twice is harmless).',
      tag: 'Live',
      auth: 'secret',
      responses: {
        200: {
          description: 'The session, ended.',
          schema: LiveSessionState,
          example: { ...exampleSession, status: 'ended', endedAt: 1767229200000 },
        },
        204: { description: 'No session was live.' },
      },
    },
    async (c, { caller: { siteId } }) => {
      const ended = await context.writer.run(endLiveOperation, { creatorId: await ownerOf(siteId), now: context.earnings.now() });
      return ended ? c.json(ended) : c.body(null, 204);
    },
  );
  route(
    {
      method: 'put',
      path: '/live/goal',
      operationId: 'setLiveGoal',
      summary: 'Set the live goal',
      description:
        'With the secret key: sets (or replaces) the site owner’s goal. It counts the Diamonds given from now on (until `endsAt`, if given); the first gift that reaches it appends `goal.reached`.',
      tag: 'Live',
      auth: 'secret',
      body: SetLiveGoal,
      // The target has the amount codes every other route uses (invalid_amount, amount_too_large).
      parseBody: validateSetLiveGoal,
      bodyExample: { title: 'New microphone', targetDiamonds: 5000 },
      responses: {
        200: {
          description: 'The goal.',
          schema: LiveGoal,
          example: { title: 'New microphone', targetDiamonds: 5000, progressDiamonds: 0, reachedAt: null, endsAt: null },
        },
      },
      errors: ['invalid_amount', 'amount_too_large'],
    },
    async (c, { caller: { siteId }, body }) => {
      const creatorId = await ownerOf(siteId);
      const now = context.earnings.now();
      await context.writer.run(setGoalOperation, {
        creatorId,
        goal: { title: body.title, targetDiamonds: body.targetDiamonds, endsAt: body.endsAt ?? null },
        now,
      });
      return c.json(await currentGoal(context.db, creatorId));
    },
  );
  route(
    {
      method: 'delete',
      path: '/live/goal',
      operationId: 'deleteLiveGoal',
      summary: 'Remove the live goal',
      tag: 'Live',
      auth: 'secret',
      responses: { 204: { description: 'Removed (or there was none).' } },
    },
    async (c, { caller: { siteId } }) => {
      await context.writer.run(setGoalOperation, { creatorId: await ownerOf(siteId), goal: null, now: context.earnings.now() });
      return c.body(null, 204);
    },
  );
  return api;
}
