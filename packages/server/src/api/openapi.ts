import { Hono } from 'hono';
import { z } from 'zod';
import { ERROR_CODES, ErrorBody, type ErrorCode } from '@diamonds/protocol';
import type { AppEnv } from '../context.js';
import { VERSION } from '../version.js';

/**
 * Who may call a route.
 *
 * - `publishable`: a page or the SDK with the site's publishable key (`pk_…`).
 * - `fan`: the publishable key and a signed-in fan's access token (`Diamonds-Token`).
 * - `secret`: the site's backend with its secret key (`sk_…`); refused from a browser.
 * - `any`: either key.
 * - `public`: nobody needs a key.
 */
export type RouteAuth = 'publishable' | 'fan' | 'secret' | 'any' | 'public';

/** One route of the API, described with the same zod schemas that validate it. */
export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** The path in OpenAPI form: `/v1/gifts/{id}`. */
  path: string;
  /** A line for the reference: what the route does. */
  summary: string;
  /** More words, when a line is not enough (Markdown). */
  description?: string;
  /** Groups routes in the reference: `Gifts`, `Wallet`… */
  tag: string;
  auth: RouteAuth;
  /** Whether the route needs an `Idempotency-Key` (every POST that moves Diamonds does). */
  idempotent?: boolean;
  /** Path parameters, each a string. */
  params?: Record<string, string>;
  /** Query parameters: an object schema. */
  query?: z.ZodObject;
  /** The JSON body. */
  body?: z.ZodType;
  /** Success responses by status. */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** Error codes a client should expect (each documented with its status). */
  errors?: readonly ErrorCode[];
}

const routes: RouteDoc[] = [];

/**
 * Adds a route to the OpenAPI document served at `/v1/openapi.json`. Call it once per route,
 * next to the handler, with the schemas the handler validates with, so the two cannot drift.
 */
export function documentRoute(doc: RouteDoc): void {
  const existing = routes.findIndex((route) => route.method === doc.method && route.path === doc.path);
  if (existing >= 0) routes[existing] = doc;
  else routes.push(doc);
}

/** Every documented route, for tests that check each one is served. */
export function documentedRoutes(): readonly RouteDoc[] {
  return routes;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
}

const SECURITY: Record<RouteAuth, unknown[]> = {
  publishable: [{ publishableKey: [] }],
  fan: [{ publishableKey: [], fanToken: [] }],
  secret: [{ secretKey: [] }],
  any: [{ publishableKey: [] }, { secretKey: [] }],
  public: [],
};

/** The OpenAPI 3.1 document of every documented route. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...routes].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const parameters: unknown[] = [];
    for (const [name, description] of Object.entries(route.params ?? {})) {
      parameters.push({ name, in: 'path', required: true, description, schema: { type: 'string' } });
    }
    if (route.query) {
      for (const [name, schema] of Object.entries(route.query.shape as Record<string, z.ZodType>)) {
        parameters.push({ name, in: 'query', required: !schema.safeParse(undefined).success, schema: jsonSchema(schema, 'input') });
      }
    }
    if (route.idempotent) {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: true,
        description: 'One per user action (a UUID). A retry with the same key replays the first answer and moves nothing again.',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema
          ? { content: { [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') } } }
          : {}),
      };
    }
    const byStatus = new Map<number, string[]>();
    // Every id in a path is checked before a query (see http/ids.ts), so each such route can say so.
    const idParams = Object.keys(route.params ?? {}).some((name) => name === 'id' || name.endsWith('Id'));
    const errors =
      idParams && !route.errors?.includes('invalid_id') ? [...(route.errors ?? []), 'invalid_id' as const] : (route.errors ?? []);
    for (const code of errors) {
      const status = ERROR_CODES[code].status;
      byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
    }
    for (const [status, codes] of byStatus) {
      responses[String(status)] = {
        description: `Error: ${codes.map((code) => `\`${code}\``).join(', ')}.`,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      security: SECURITY[route.auth],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Diamonds API',
      version: VERSION,
      description:
        'The HTTP API of the Diamonds platform. Amounts of Diamonds are whole numbers; money is in integer minor units. ' +
        'Every POST that moves Diamonds needs an Idempotency-Key. Errors share one body with a stable `code`.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        publishableKey: { type: 'http', scheme: 'bearer', description: 'The site’s publishable key, pk_…' },
        secretKey: { type: 'http', scheme: 'bearer', description: 'The site’s secret key, sk_…; never from a browser.' },
        fanToken: { type: 'apiKey', in: 'header', name: 'Diamonds-Token', description: 'A signed-in fan’s access token, dat_…' },
      },
      schemas: { ErrorBody: jsonSchema(ErrorBody, 'output') },
    },
    paths,
  };
}

documentRoute({
  method: 'get',
  path: '/v1/openapi.json',
  tag: 'Reference',
  auth: 'public',
  summary: 'This document.',
  responses: { 200: { description: 'The OpenAPI 3.1 document of the API.' } },
});

/** `GET /v1/openapi.json`: the document, open to any caller (no key needed). */
export function openApiRoutes(): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  api.get('/openapi.json', (c) => {
    c.header('Cache-Control', 'public, max-age=60');
    return c.json(openApiDocument());
  });
  return api;
}
