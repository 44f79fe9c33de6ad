import type { Context, Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { type ErrorCode, type IdPrefix, type PrefixedId } from '@diamonds/protocol';
import type { AppContext, AppEnv, MoneySettings } from '../context.js';
import { ApiError } from '../errors.js';
import { verifyDpopProof } from '../identity/dpop.js';
import { authenticateAccessToken } from '../identity/tokens.js';
import { validate, type JsonObject } from './body.js';
import type { Caller } from './cors.js';
import { parseId } from './ids.js';

/*
 * Each `/v1` route declared once. One {@link RouteSpec} gives the route's OpenAPI entry (see
 * http/openapi.ts, which reads the specs back from the routes an app mounted), its
 * authentication (a middleware), the validation of its path ids, query and body with the
 * protocol's zod schemas (a second middleware), and its documented error codes; the handler
 * gets who called and the validated, typed input:
 *
 *   const route = routesOn(api, context);
 *   route({ method: 'get', path: '/gifts/{id}', operationId: 'getGift', auth: 'fan',
 *           params: { id: idParam('gift', 'The gift’s id.') }, … },
 *         async (c, { caller, params }) => c.json(await findGiftForFan(db, params.id, caller.userId)));
 *
 * Checks run in one order: the API key (app-wide, http/cors.ts), the route's authentication,
 * path ids, query, body, then the handler. So a bad id never reaches a query, and nothing is
 * validated for a caller who may not call the route.
 */

/**
 * Who may call a route.
 *
 * - `public`: nobody needs a key (the OpenAPI document, Stripe's webhook).
 * - `publishable`: a page, with the site's publishable key (`pk_…`) and its `Origin`.
 * - `fan`: a page with the publishable key and a signed-in fan's access token
 *   (`Diamonds-Token`), proven by a `DPoP` proof made with the key the token is bound to.
 * - `secret`: the site's backend with its secret key (`sk_…`); refused from a browser.
 * - `any`: either key.
 */
export type RouteAuth = 'public' | 'publishable' | 'fan' | 'secret' | 'any';

/** A page's call: the publishable key's site and the page's origin. */
export interface PageCaller {
  siteId: string;
  origin: string;
}

/** A signed-in fan's call from a page of the site. */
export interface FanCaller extends PageCaller {
  /** The fan (`usr_…`). */
  userId: string;
}

/** A call from a site's backend, with its secret key. */
export interface SecretCaller {
  siteId: string;
}

/** Who called a route of the given {@link RouteAuth}, as its handler receives it. */
export type CallerOf<A extends RouteAuth> = {
  public: undefined;
  publishable: PageCaller;
  fan: FanCaller;
  secret: SecretCaller;
  any: Caller;
}[A];

/** A path parameter: what the document says of it, and how its value is checked. */
export interface PathParam<T = unknown> {
  /** For the reference. */
  description: string;
  /** Its schema in the document. */
  schema: z.ZodType;
  /**
   * Checks the raw value (as routed; `undefined` if absent) and returns it typed.
   *
   * @throws {@link ApiError} a 4xx, such as `invalid_id`
   */
  parse(value: string | undefined, name: string): T;
  /** The codes `parse` refuses with, for the document. */
  errors?: readonly ErrorCode[];
}

/** The pattern of an id of `prefix`: the prefix, `_`, then 26 Crockford base32 characters. */
export function idPattern(prefix: IdPrefix): string {
  return `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`;
}

/**
 * An example id of `prefix` for documents: always the same, so documents do not churn;
 * `variant` (0 to 31) tells apart two ids of one kind in an example.
 */
export function exampleId<P extends IdPrefix>(prefix: P, variant = 20): PrefixedId<P> {
  return `${prefix}_01JD3S9ZK4W8Q2V7C5XH6RTB0${'0123456789ABCDEFGHJKMNPQRSTVWXYZ'.charAt(variant)}`;
}

/**
 * A path parameter holding an id of `prefix`, refused with 400 `invalid_id` before any query
 * when it is not one (see {@link parseId}).
 */
export function idParam<P extends IdPrefix>(prefix: P, description: string): PathParam<PrefixedId<P>> {
  return {
    description,
    schema: z
      .string()
      .regex(new RegExp(idPattern(prefix)))
      .meta({ examples: [exampleId(prefix)] }),
    parse: (value, name) => parseId(prefix, value, name),
    errors: ['invalid_id'],
  };
}

/** A success response of a route. */
export interface RouteResponse {
  description: string;
  /** The body's schema (its output side), for the document. */
  schema?: z.ZodType;
  /** @defaultValue `application/json` */
  contentType?: string;
  /** An example body, checked against `schema` by the document's tests. */
  example?: unknown;
}

/** One route of the API: everything the document, the middleware and the handler need. */
export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** The path in OpenAPI form, relative to where the router is mounted: `/gifts/{id}`. */
  path: string;
  /**
   * The path as Hono routes it, when `path` cannot say it (a parameter followed by a suffix,
   * such as `/gifts/:file{[a-z]+\\.svg}` for `/gifts/{id}.svg`).
   *
   * @defaultValue `path` with each `{name}` as `:name`
   */
  route?: string;
  /** Stable and unique, in camelCase: what generated clients name the call (`sendGift`). */
  operationId: string;
  /** A line for the reference: what the route does. */
  summary: string;
  /** More words, when a line is not enough (Markdown). */
  description?: string;
  /** Groups routes in the reference: `Gifts`, `Wallet`… */
  tag: string;
  auth: RouteAuth;
  /**
   * Whether the route takes an `Idempotency-Key`: `true`, required (every POST that moves
   * Diamonds); `'optional'`, honoured when given.
   */
  idempotent?: boolean | 'optional';
  /** Path parameters by name, in the order they are checked. */
  params?: Readonly<Record<string, PathParam>>;
  /** The query: validated with {@link validate} unless `parseQuery` is given. */
  query?: z.ZodObject;
  /** Checks the query instead of `validate(query, …)`, for fields with codes of their own. */
  parseQuery?: (raw: Record<string, string>) => unknown;
  /** The JSON body: validated with {@link validate} unless `parseBody` is given. */
  body?: z.ZodType;
  /** Checks the body instead of `validate(body, …)`, for fields with codes of their own (`invalid_amount`…). */
  parseBody?: (raw: JsonObject) => unknown;
  /** An example body, checked against `body` by the document's tests. */
  bodyExample?: unknown;
  /** Success responses by status. */
  responses: Readonly<Record<number, RouteResponse>>;
  /**
   * The route's own error codes. Those of its authentication, of its ids, of body and query
   * validation and of idempotency are added by the document (see `http/openapi.ts`).
   */
  errors?: readonly ErrorCode[];
}

type ParamsOf<S> = S extends { params: infer P extends Readonly<Record<string, PathParam>> }
  ? { [K in keyof P]: P[K] extends PathParam<infer T> ? T : never }
  : Record<string, never>;
type QueryOf<S> = S extends { parseQuery: (raw: never) => infer T }
  ? T
  : S extends { query: infer Q extends z.ZodType }
    ? z.output<Q>
    : undefined;
type BodyOf<S> = S extends { parseBody: (raw: never) => infer T }
  ? T
  : S extends { body: infer B extends z.ZodType }
    ? z.output<B>
    : undefined;

/** What a route's handler receives besides Hono's context: the caller and the checked input. */
export interface RouteInput<S extends RouteSpec> {
  caller: CallerOf<S['auth']>;
  params: ParamsOf<S>;
  query: QueryOf<S>;
  body: BodyOf<S>;
}

/** A route's handler. */
export type RouteHandler<S extends RouteSpec> = (c: Context<AppEnv>, input: RouteInput<S>) => Response | Promise<Response>;

/** What authentication needs: the database, and the public origin DPoP proofs name. */
export type RouteContext = Pick<AppContext, 'db'> & { settings: Pick<MoneySettings, 'publicUrl'> };

/** Declares a route on the router it was made for (see {@link routesOn}). */
export type DeclareRoute = <const S extends RouteSpec>(spec: S, handler: RouteHandler<S>) => void;

/** A route as mounted: its spec and the Hono path it was added under (relative to the router). */
export interface DeclaredRoute {
  spec: RouteSpec;
  route: string;
}

const DECLARED = Symbol('diamonds.route');

type DeclaredHandler = ((c: Context<AppEnv>) => Response | Promise<Response>) & { [DECLARED]?: DeclaredRoute };

/** The per-request variables of a declared route: what its middleware hand to its handler. */
interface RouteVariables {
  routeCaller: unknown;
  routeInput: { params: unknown; query: unknown; body: unknown };
}
type RouteEnv = { Variables: AppEnv['Variables'] & RouteVariables };

/** Where Hono keeps the handler it wrapped when a router with its own error handler was mounted. */
const COMPOSED_HANDLER = '__COMPOSED_HANDLER';

/**
 * The spec of the route a mounted handler (an entry of `app.routes`) was declared with, or
 * `undefined` for middleware and undeclared handlers.
 */
export function declaredRoute(handler: unknown): DeclaredRoute | undefined {
  let current = handler as (DeclaredHandler & { [COMPOSED_HANDLER]?: unknown }) | undefined;
  while (typeof current === 'function') {
    if (current[DECLARED] !== undefined) return current[DECLARED];
    current = current[COMPOSED_HANDLER] as typeof current;
  }
  return undefined;
}

/** The Hono path of a spec: its own `route`, or `path` with `{name}` as `:name`. */
function honoPath(spec: RouteSpec): string {
  return spec.route ?? spec.path.replace(/\{(\w+)\}/g, ':$1');
}

/**
 * A function that declares routes on `api`: each with its authentication middleware, its input
 * validation middleware and its handler, the spec kept on the handler for the document.
 *
 * @example
 * ```ts
 * const api = new Hono<AppEnv>();
 * const route = routesOn(api, context);
 * route({ method: 'get', path: '/wallet', operationId: 'getWallet', auth: 'fan', … },
 *   async (c, { caller }) => c.json(await walletSummary(db, caller.userId, caller.siteId)));
 * ```
 */
export function routesOn(api: Hono<AppEnv>, context?: RouteContext): DeclareRoute {
  return (spec, handler) => {
    if (spec.auth === 'fan' && context === undefined) throw new TypeError(`${spec.operationId}: a fan's route needs the route context`);
    const final: DeclaredHandler = (c) => {
      const input = c.get('routeInput' as never) as RouteVariables['routeInput'];
      return handler(c, { caller: c.get('routeCaller' as never), ...input } as never);
    };
    final[DECLARED] = { spec, route: honoPath(spec) };
    api.on(
      spec.method.toUpperCase(),
      honoPath(spec),
      authenticateAs(spec.auth, context) as unknown as MiddlewareHandler<AppEnv>,
      validateInput(spec) as unknown as MiddlewareHandler<AppEnv>,
      final,
    );
  };
}

/**
 * The middleware that authenticates a route's caller as `auth` demands and hands them to the
 * handler (see {@link authenticate}).
 */
export function authenticateAs(auth: RouteAuth, context?: RouteContext): MiddlewareHandler<RouteEnv> {
  return async (c, next) => {
    c.set('routeCaller', await authenticate(auth, c as unknown as Context<AppEnv>, context));
    return next();
  };
}

/**
 * The middleware that checks a route's path parameters, then its query, then its body, and
 * hands them to the handler typed.
 *
 * @throws {@link ApiError} `invalid_id` (or a parameter's own code), `invalid_request`, or a
 * code of the spec's `parseQuery` / `parseBody`
 */
export function validateInput(spec: RouteSpec): MiddlewareHandler<RouteEnv> {
  const params = Object.entries(spec.params ?? {});
  const { query, parseQuery, body, parseBody } = spec;
  return async (c, next) => {
    const values: Record<string, unknown> = {};
    for (const [name, param] of params) values[name] = param.parse(c.req.param(name), name);
    const input: RouteVariables['routeInput'] = { params: values, query: undefined, body: undefined };
    if (parseQuery !== undefined) input.query = parseQuery(c.req.query());
    else if (query !== undefined) input.query = validate(query, c.req.query());
    // Key-less routes are not behind the JSON body middleware: their body is theirs to read.
    const json = (c.get('json') as JsonObject | undefined) ?? {};
    if (parseBody !== undefined) input.body = parseBody(json);
    else if (body !== undefined) input.body = validate(body, json);
    c.set('routeInput', input);
    return next();
  };
}

/**
 * Who is calling, as a route of kind `auth` requires them; refuses anyone else.
 *
 * @throws {@link ApiError} `permission_denied`, `origin_not_allowed`, `authentication_required`,
 * `invalid_token`, `invalid_dpop_proof`
 */
export async function authenticate<A extends RouteAuth>(auth: A, c: Context<AppEnv>, context?: RouteContext): Promise<CallerOf<A>> {
  switch (auth) {
    case 'public':
      return undefined as CallerOf<A>;
    case 'any':
      return c.get('caller') as CallerOf<A>;
    case 'secret':
      return secretCaller(c) as CallerOf<A>;
    case 'publishable':
      return pageCaller(c) as CallerOf<A>;
    case 'fan':
      if (context === undefined) throw new TypeError('A fan is authenticated against a database: pass the route context.');
      return (await fanCaller(c, context)) as CallerOf<A>;
  }
  throw new TypeError(`Unknown route auth ${String(auth)}`);
}

/**
 * The browser side of a call: the publishable key's site and the page's origin. Sign-in and
 * fan tokens are for pages, so a secret key, or a call without `Origin`, is refused.
 *
 * @throws {@link ApiError} `permission_denied`, `origin_not_allowed`
 */
export function pageCaller(c: Context<AppEnv>): PageCaller {
  const caller = c.get('caller');
  if (caller.keyKind !== 'publishable') {
    throw new ApiError('permission_denied', 'Sign-in and fan tokens are for pages: use the publishable key (pk_…).');
  }
  if (!caller.origin) {
    throw new ApiError(
      'origin_not_allowed',
      'Fan sign-in happens in a browser: the request needs an Origin header from one of the site’s origins.',
    );
  }
  return { siteId: caller.siteId, origin: caller.origin };
}

/**
 * The site behind a secret key: for routes only a site's backend may call.
 *
 * @throws {@link ApiError} `permission_denied` for a publishable key
 */
export function secretCaller(c: Context<AppEnv>): SecretCaller {
  const caller = c.get('caller');
  if (caller.keyKind !== 'secret') {
    throw new ApiError('permission_denied', 'This route is for your server: call it with the site’s secret key (sk_…), never from a page.');
  }
  return { siteId: caller.siteId };
}

/**
 * Checks the request's `DPoP` proof (see identity/dpop.ts) and returns its key's thumbprint;
 * with `accessToken`, the proof must carry that token's hash.
 *
 * @remarks The proof names the URL it was made for (`htu`): the platform's public origin (or,
 * without one configured, the origin the request came to) and the path as sent.
 * @throws {@link ApiError} `invalid_dpop_proof`
 */
export async function dpopThumbprint(c: Context<AppEnv>, context: RouteContext, accessToken?: string): Promise<string> {
  const url = new URL(c.req.url);
  const origin = context.settings.publicUrl === undefined ? url.origin : new URL(context.settings.publicUrl).origin;
  const target = { method: c.req.method, url: `${origin}${url.pathname}`, accessToken };
  // The database too, so that on PostgreSQL a proof is used once by every process (identity/dpop-replays.ts).
  return (await verifyDpopProof(c.req.header('DPoP'), target, Date.now(), context.db)).jkt;
}

/**
 * The fan behind the `Diamonds-Token` header, for this site and origin, proven by a DPoP proof
 * made with the key the token is bound to (so a token copied out of the page works nowhere
 * else). Every fan-authenticated route goes through here.
 *
 * @throws {@link ApiError} `permission_denied`, `origin_not_allowed`, `authentication_required`,
 * `invalid_token`, `invalid_dpop_proof`
 */
export async function fanCaller(c: Context<AppEnv>, context: RouteContext): Promise<FanCaller> {
  const page = pageCaller(c);
  const token = c.req.header('Diamonds-Token');
  if (!token)
    throw new ApiError('authentication_required', 'Sign the fan in first and send their access token as the Diamonds-Token header.');
  const jkt = await dpopThumbprint(c, context, token);
  const grant = await authenticateAccessToken(context.db, token, { ...page, jkt });
  return { ...page, userId: grant.userId };
}
