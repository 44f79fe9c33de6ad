// What the elements' browser tests share: assertions, waiting, the platform fixture's calls
// (`/__diamonds/…`, served by web-test-runner.config.mjs), a stubbed `window.open`, mounting in a
// provider, and axe-core. It lives outside src/ so no build, bundle or package entry ships it.
// Importing it registers one root `afterEach` that undoes what these helpers set up.
import { emulateMedia, setViewport } from '@web/test-runner-commands';
import { createDiamonds, type DiamondsClient, type DiamondsOptions } from '@diamonds/sdk';

/** The `this` of a mocha test, for the one call the tests make on it. */
export interface Mocha {
  timeout(ms: number): void;
}

declare global {
  /** mocha's `describe`, a global under @web/test-runner. */
  function describe(name: string, body: () => void): void;
  /** mocha's `it`, a global under @web/test-runner. */
  function it(name: string, body: (this: Mocha) => void | Promise<void>): void;
  /** mocha's `afterEach`, a global under @web/test-runner. */
  function afterEach(body: () => void | Promise<void>): void;
}

/** Throws `what` unless `condition` holds. */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

/** Throws unless `actual` is `expected` (`Object.is`), naming both. */
export function assertEqual<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Waits until `check` returns something truthy, and returns it. */
export async function until<T>(check: () => T, what: string, timeoutMs = 4000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** GETs `url` (a fixture route such as `/__diamonds/decide?…`) and reads its JSON answer. */
export const json = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

/** The demo platform the fixture started: where it answers, its site's key and the demo data. */
export interface ElementFixture {
  apiBase: string;
  publishableKey: string;
  creatorId: string;
  creatorName: string;
  contentIds: string[];
  productIds: string[];
}

/** The fixture's platform (`/__diamonds/fixture`). */
export const fixture = (): Promise<ElementFixture> => json<ElementFixture>('/__diamonds/fixture');

/** A fan's sign-in as the SDK keeps it with storage "local". */
export interface StoredFan {
  storageKey: string;
  storageValue: string;
}

/** Runs one request on the SDK's IndexedDB store of DPoP keys (database `diamonds`, store `keys`). */
const keyStore = <T>(run: (store: IDBObjectStore) => IDBRequest): Promise<T> =>
  new Promise((resolve, reject) => {
    const open = indexedDB.open('diamonds');
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onsuccess = () => {
      const request = run(open.result.transaction('keys', 'readwrite').objectStore('keys'));
      request.onsuccess = () => resolve(request.result as T);
      request.onerror = () => reject(request.error);
    };
    open.onerror = () => reject(open.error);
  });

/**
 * The thumbprint (RFC 7638) of this page's DPoP key for the fixture's site: the one the SDK keeps
 * in IndexedDB under the publishable key, made here first if the SDK has not made it yet. Tokens
 * the fixture issues are bound to it, as a sign-in in this browser would bind them.
 */
export async function pageKeyThumbprint(publishableKey: string): Promise<string> {
  let pair = await keyStore<CryptoKeyPair | undefined>((store) => store.get(publishableKey));
  if (!pair) {
    const made = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as CryptoKeyPair;
    await keyStore((store) => store.put(made, publishableKey));
    pair = made;
  }
  const { crv, kty, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ crv, kty, x, y })));
  return btoa(String.fromCharCode(...new Uint8Array(digest)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/**
 * A new fan (`fan` is the query of `/__diamonds/fan`: `balance=…&allowance=…&name=…`), written
 * to localStorage, so a client with storage "local" that starts afterwards is signed in.
 */
export async function newFan(fan: string): Promise<StoredFan> {
  const { publishableKey } = await fixture();
  const jkt = await pageKeyThumbprint(publishableKey);
  const stored = await json<StoredFan>(`/__diamonds/fan?${fan}&jkt=${encodeURIComponent(jkt)}`);
  localStorage.setItem(stored.storageKey, stored.storageValue);
  return stored;
}

/** A client of the fixture's site that keeps its sign-in in localStorage and polls quickly. */
export function localClient(info: ElementFixture, options: Partial<DiamondsOptions> = {}): DiamondsClient {
  return createDiamonds({
    publishableKey: info.publishableKey,
    apiBase: info.apiBase,
    storage: 'local',
    pollWaitMs: 200,
    maxRetries: 0,
    ...options,
  });
}

/**
 * A popup as the stubbed `window.open` returns it. It is a `MessagePort` underneath, only so
 * that it can be the `source` of a `message` event, as the real popup is of the sign-in code.
 */
export interface FakePopup {
  closed: boolean;
  location: { href: string };
  close(): void;
  focus(): void;
}

/** The popups the stubbed `window.open` returned since the test began, in order. */
export const opened: FakePopup[] = [];

const realOpen = window.open;

/** A new fake popup, open at `about:blank`, that `close()` marks closed. */
export function fakePopup(): FakePopup {
  return Object.assign(new MessageChannel().port1, {
    closed: false,
    location: { href: 'about:blank' },
    close(this: FakePopup) {
      this.closed = true;
    },
    focus() {},
  });
}

/** Replaces `window.open`: every call returns a new {@link fakePopup} (or `null`, as a popup blocker would). */
export function stubOpen(blocked = false): void {
  window.open = (() => {
    if (blocked) return null;
    const popup = fakePopup();
    opened.push(popup);
    return popup;
  }) as unknown as typeof window.open;
}

const mounted: Element[] = [];

/** Appends `element` to the document until the test ends. */
export function attach<E extends Element>(element: E): E {
  document.body.append(element);
  mounted.push(element);
  return element;
}

/** A `<div>` holding `markup`, in the document until the test ends. */
export function mountMarkup(markup: string): HTMLDivElement {
  const container = document.createElement('div');
  container.innerHTML = markup;
  return attach(container);
}

afterEach(async () => {
  for (const popup of opened) popup.closed = true;
  opened.length = 0;
  window.open = realOpen;
  for (const element of mounted.splice(0)) element.remove();
  localStorage.clear();
  sessionStorage.clear();
  await emulateMedia({ reducedMotion: 'no-preference', colorScheme: 'light' });
  await setViewport(DESKTOP);
});

/** The viewport tests run in (web-test-runner's Chromium default), restored after each test. */
export const DESKTOP = { width: 800, height: 600 };

/** A phone's viewport, as the issue measured it (an iPhone 12 to 15 in CSS pixels). */
export const PHONE = { width: 390, height: 844 };

/** Throws unless `element`'s border box lies wholly inside the viewport. */
export function assertInViewport(element: Element, what: string): void {
  const box = element.getBoundingClientRect();
  const inside = box.left >= 0 && box.top >= 0 && box.right <= innerWidth && box.bottom <= innerHeight;
  assert(inside, `${what} inside the ${innerWidth}×${innerHeight} viewport, got ${JSON.stringify(box)}`);
}

/** Any CSS colour as sRGB 0–255, resolved by a canvas (so `lch(from …)` works too). */
function rgb(color: string): [number, number, number] {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const context = canvas.getContext('2d')!;
  context.fillStyle = color;
  context.fillRect(0, 0, 1, 1);
  const [r, g, b] = context.getImageData(0, 0, 1, 1).data;
  return [r!, g!, b!];
}

/** WCAG 2 relative luminance of an sRGB colour. */
function luminance([r, g, b]: [number, number, number]): number {
  const linear = (c: number): number => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** The WCAG contrast ratio of `element`'s text colour on its own (opaque) background colour. */
export function textContrast(element: Element): number {
  const style = getComputedStyle(element);
  const [a, b] = [luminance(rgb(style.color)), luminance(rgb(style.backgroundColor))].sort((x, y) => y - x);
  return (a! + 0.05) / (b! + 0.05);
}

/** An element of the fixture's site mounted by {@link mountInProvider}. */
export interface MountedInProvider<E extends HTMLElement> {
  element: E;
  client: DiamondsClient;
  shadow: ShadowRoot;
  container: HTMLElement;
}

/** What {@link mountInProvider} mounts and when it is ready. */
export interface MountInProviderOptions<E extends HTMLElement> {
  /** The element's markup, placed inside the provider. */
  markup: string;
  /** The element's tag; the first one in `markup` is returned. */
  tag: string;
  /** The class the tag must be upgraded to. */
  type: new () => E;
  /** A selector in the element's shadow root that shows it has loaded. */
  ready: string;
  /** Query of `/__diamonds/fan` for a signed-in fan; signed out without it. */
  fan?: string;
  /** @defaultValue `'en'` */
  locale?: string;
}

/**
 * With `window.open` stubbed, `markup` inside a `<diamond-provider>` with its own
 * {@link localClient} (with a fan signed in when asked), once the element shows `ready` and,
 * for a fan, the allowance and wallet loaded.
 */
export async function mountInProvider<E extends HTMLElement & { client?: unknown; updateComplete: Promise<boolean> }>(
  options: MountInProviderOptions<E>,
): Promise<MountedInProvider<E>> {
  stubOpen();
  const info = await fixture();
  if (options.fan) await newFan(options.fan);
  const client = localClient(info, { locale: options.locale ?? 'en' });
  const container = document.createElement('div');
  const provider = document.createElement('diamond-provider');
  provider.client = client;
  provider.innerHTML = options.markup;
  container.append(provider);
  attach(container);
  const element = container.querySelector(options.tag);
  assert(element instanceof options.type, `upgraded to ${options.type.name}`);
  await until(() => element.client === client, 'the provider’s client');
  const shadow = element.shadowRoot;
  assert(shadow, 'shadow root');
  await until(() => shadow.querySelector(options.ready), `${options.tag} to show ${options.ready}`);
  if (options.fan) await until(() => client.allowance.get() !== null && client.wallet.get().status === 'ready', 'the allowance');
  await element.updateComplete;
  return { element, client, shadow, container };
}

/** The element in `shadow` with the part `name`; throws if there is none. */
export function part(shadow: ShadowRoot, name: string): HTMLElement {
  const found = shadow.querySelector<HTMLElement>(`[part~="${name}"]`);
  assert(found, `part "${name}"`);
  return found;
}

/** The text of the part `name` in `shadow`, white space collapsed. */
export const text = (shadow: ShadowRoot, name: string): string => (part(shadow, name).textContent ?? '').replace(/\s+/g, ' ').trim();

/** The confirmation (`cnf_…`) the stubbed popup `index` was sent to, once it is there. */
export const confirmationInPopup = (index = 0): Promise<string> =>
  until(() => opened[index]?.location.href.match(/\/confirm\/(cnf_[\w-]+)/)?.[1], 'the popup at /confirm/cnf_…');

/**
 * What the fan does in the sign-in popup (stubbed popup `index`): a new fan
 * (`balance=…&allowance=…`) approves the sign-in request the page sent it to, and the hosted
 * "done" page posts the one-time code to its opener (a `message` from the popup, from the
 * platform's origin); the page's SDK then exchanges it, as it would.
 */
export async function approveSignIn(fan: string, index = 0): Promise<void> {
  const request = await until(() => opened[index]?.location.href.match(/[?&]request=(sir_\w+)/)?.[1], 'the popup at the sign-in request');
  const approved = await json<{ status: string; code: string }>(`/__diamonds/approve-signin?request=${request}&${fan}`);
  assertEqual(approved.status, 'approved', 'the sign-in request approved');
  const { apiBase } = await fixture();
  window.dispatchEvent(
    new MessageEvent('message', {
      data: { type: 'diamonds:signin', request, code: approved.code },
      origin: new URL(apiBase).origin,
      source: opened[index] as unknown as MessagePort,
    }),
  );
}

interface AxeResult {
  violations: Array<{ id: string; help: string; nodes: Array<{ target: unknown }> }>;
}

/** axe-core's WCAG 2.1 AA and best-practice violations in `element`, one a line; `''` when none. */
export async function axeViolations(element: Element): Promise<string> {
  await import('axe-core');
  const axe = (globalThis as unknown as { axe: { run(context: Element, options: unknown): Promise<AxeResult> } }).axe;
  const result = await axe.run(element, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    // A lone element under test is not a page: it has no landmarks to sit in.
    rules: { region: { enabled: false } },
  });
  return result.violations.map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`).join('\n');
}
