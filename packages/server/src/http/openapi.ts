import { Hono } from 'hono';
import { z } from 'zod';
import { ERROR_CODES, ErrorBody, ID_PREFIXES, type ErrorCode } from '@diamonds/protocol';
import type { AppEnv } from '../context.js';
import { declaredRoute, exampleId, idPattern, routesOn, type RouteAuth, type RouteSpec } from './route.js';
import { VERSION } from '../version.js';

/*
 * The OpenAPI 3.1 document, built from the routes an app actually mounted: each route declared
 * with `routesOn` (http/route.ts) carries its spec on its handler, and `app.routes` lists every
 * handler with the full path it was mounted at. Nothing is registered at import time.
 */

export type { RouteAuth } from './route.js';

/** The groups of the reference, in order, with a line each. */
const TAGS: readonly { name: string; description: string }[] = [
  { name: 'Sign-in', description: 'A fan signs in from a site’s page in a popup on the platform, and the page gets DPoP-bound tokens.' },
  { name: 'Wallet', description: 'The signed-in fan’s balances and history.' },
  { name: 'Rates', description: 'Exchange rates, top-up packs and quotes that lock a price.' },
  { name: 'Top-ups', description: 'Buying Diamonds with money.' },
  { name: 'Gifts', description: 'The gift catalog, and gifts from fans to creators.' },
  { name: 'Content', description: 'Exclusive content a fan unlocks with Diamonds or by support.' },
  { name: 'Orders', description: 'A shop’s products and orders, paid in Diamonds.' },
  { name: 'Confirmations', description: 'Spends beyond the fan’s allowance, waiting for the fan’s approval.' },
  { name: 'Sites', description: 'The site’s own creators, whom fans’ allowances pay.' },
  { name: 'Events', description: 'What committed on a site, for its backend, in order.' },
  { name: 'Reference', description: 'This document.' },
];

/** One operation of the document: where it is and what describes it. */
interface DocumentedRoute {
  method: RouteSpec['method'];
  /** From the root, in OpenAPI form. */
  path: string;
  spec: RouteSpec;
}

/** The document's example id and pattern for an id schema of the protocol (`z.custom` in zod). */
const ID_SAMPLES = Object.values(ID_PREFIXES).map((prefix) => ({ prefix, id: exampleId(prefix) }));

/**
 * A zod schema as JSON Schema. The protocol's id schemas are custom checks, which JSON Schema
 * cannot say: each becomes a string with its prefix's pattern, found by which example id the
 * check accepts.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
    override: ({ zodSchema, jsonSchema: json }) => {
      if (zodSchema._zod.def.type !== 'custom') return;
      const accepted = ID_SAMPLES.filter(({ id }) => z.safeParse(zodSchema, id).success);
      if (accepted.length !== 1) return;
      const { prefix, id } = accepted[0]!;
      Object.assign(json, { type: 'string', pattern: idPattern(prefix), examples: [id] });
    },
  });
  return rest;
}

const SECURITY: Record<RouteAuth, unknown[]> = {
  publishable: [{ publishableKey: [] }],
  fan: [{ publishableKey: [], fanToken: [], dpopProof: [] }],
  secret: [{ secretKey: [] }],
  any: [{ publishableKey: [] }, { secretKey: [] }],
  public: [],
};

/** What any keyed `/v1` call may be refused with before the route runs (http/cors.ts). */
const KEY_ERRORS: readonly ErrorCode[] = ['authentication_required', 'invalid_api_key', 'origin_not_allowed', 'secret_key_in_browser'];

/** What each kind of authentication adds (http/route.ts). */
const AUTH_ERRORS: Record<RouteAuth, readonly ErrorCode[]> = {
  public: [],
  any: KEY_ERRORS,
  publishable: [...KEY_ERRORS, 'permission_denied'],
  secret: [...KEY_ERRORS, 'permission_denied'],
  fan: [...KEY_ERRORS, 'permission_denied', 'invalid_token', 'invalid_dpop_proof'],
};

/** Every code a route may answer: its own, then those its declaration implies. */
function errorCodes(route: DocumentedRoute): ErrorCode[] {
  const { spec } = route;
  const codes = new Set<ErrorCode>(spec.errors ?? []);
  const add = (...more: readonly ErrorCode[]) => more.forEach((code) => codes.add(code));
  add(...AUTH_ERRORS[spec.auth]);
  for (const param of Object.values(spec.params ?? {})) add(...(param.errors ?? []));
  // A query's own parser (such as a currency's) answers with its own codes.
  if ((spec.query !== undefined && spec.parseQuery === undefined) || spec.body !== undefined) add('invalid_request');
  // The JSON body middleware (http/body.ts) reads every keyed call's body.
  if (spec.body !== undefined && spec.auth !== 'public') add('invalid_json', 'unsupported_media_type', 'payload_too_large');
  if (spec.idempotent === true) add('idempotency_key_required');
  if (spec.idempotent) add('idempotency_key_invalid', 'idempotency_key_reused');
  return [...codes];
}

function operation(route: DocumentedRoute): Record<string, unknown> {
  const { spec } = route;
  const parameters: unknown[] = [];
  for (const [name, param] of Object.entries(spec.params ?? {})) {
    parameters.push({ name, in: 'path', required: true, description: param.description, schema: jsonSchema(param.schema, 'input') });
  }
  if (spec.query) {
    for (const [name, schema] of Object.entries(spec.query.shape as Record<string, z.ZodType>)) {
      parameters.push({
        name,
        in: 'query',
        required: !schema.safeParse(undefined).success,
        ...(schema.description === undefined ? {} : { description: schema.description }),
        schema: jsonSchema(schema, 'input'),
      });
    }
  }
  if (spec.idempotent) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: spec.idempotent === true,
      description: 'One per user action (a UUID). A retry with the same key replays the first answer and moves nothing again.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? {
            content: {
              [response.contentType ?? 'application/json']: {
                schema: jsonSchema(response.schema, 'output'),
                ...(response.example === undefined ? {} : { example: response.example }),
              },
            },
          }
        : {}),
    };
  }
  const byStatus = new Map<number, string[]>();
  for (const code of errorCodes(route)) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: `Error: ${codes.map((code) => `\`${code}\``).join(', ')}.`,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    // A read with the publishable key may name it in the query instead (no CORS preflight).
    security:
      spec.method === 'get' && (spec.auth === 'publishable' || spec.auth === 'any')
        ? [...SECURITY[spec.auth], { publishableKeyQuery: [] }]
        : SECURITY[spec.auth],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: jsonSchema(spec.body, 'input'),
                ...(spec.bodyExample === undefined ? {} : { example: spec.bodyExample }),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

/** Every route `app` mounted with a spec, at its full path. */
function documentedRoutes(app: Hono<AppEnv>): DocumentedRoute[] {
  const found: DocumentedRoute[] = [];
  for (const mounted of app.routes) {
    const declared = declaredRoute(mounted.handler);
    if (declared === undefined || !mounted.path.endsWith(declared.route)) continue;
    // Where the router was mounted (`/v1`), then the spec's own path.
    const prefix = mounted.path.slice(0, mounted.path.length - declared.route.length);
    found.push({ method: declared.spec.method, path: `${prefix}${declared.spec.path}`, spec: declared.spec });
  }
  return found;
}

/** The OpenAPI 3.1 document of every route `app` serves with a spec. */
export function openApiDocument(app: Hono<AppEnv>): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const routes = documentedRoutes(app).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(route);
  }
  const used = new Set(routes.map((route) => route.spec.tag));
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
    tags: [
      ...TAGS.filter((tag) => used.has(tag.name)),
      ...[...used].filter((name) => !TAGS.some((tag) => tag.name === name)).map((name) => ({ name })),
    ],
    components: {
      securitySchemes: {
        publishableKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The site’s publishable key, pk_…, from a page on one of the site’s origins.',
        },
        publishableKeyQuery: {
          type: 'apiKey',
          in: 'query',
          name: 'key',
          description:
            'The publishable key as `?key=pk_…` on a GET without Authorization: a browser then sends the read with no CORS preflight. Never a secret key.',
        },
        secretKey: { type: 'http', scheme: 'bearer', description: 'The site’s secret key, sk_…; never from a browser.' },
        fanToken: { type: 'apiKey', in: 'header', name: 'Diamonds-Token', description: 'A signed-in fan’s access token, dat_…' },
        dpopProof: {
          type: 'apiKey',
          in: 'header',
          name: 'DPoP',
          description:
            'A DPoP proof (RFC 9449) for this request, signed by the key the fan’s token is bound to, with the token’s hash (`ath`).',
        },
      },
      schemas: { ErrorBody: jsonSchema(ErrorBody, 'output') },
    },
    paths,
  };
}

/**
 * `GET /v1/openapi.json`: the document of the routes `app` serves, open to any caller (no key
 * needed). Built at the first request, once every router is mounted, then kept.
 */
export function openApiRoutes(app: Hono<AppEnv>): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api);
  let document: Record<string, unknown> | undefined;
  route(
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApiDocument',
      tag: 'Reference',
      auth: 'public',
      summary: 'This document.',
      responses: { 200: { description: 'The OpenAPI 3.1 document of the API.' } },
    },
    (c) => {
      document ??= openApiDocument(app);
      c.header('Cache-Control', 'public, max-age=60');
      return c.json(document);
    },
  );
  return api;
}
