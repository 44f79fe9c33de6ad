// Runs in Chromium through @web/test-runner (mocha's describe/it are globals there), against the
// real platform its config starts: gifts are sent through the platform's money path (the
// fixture's /__diamonds/live-gift) and reach the element over the live stream.
import { emulateMedia } from '@web/test-runner-commands';
import type { LiveFeed } from '@diamonds/sdk/live';
import { DiamondLiveFeed } from './live-feed.js';
import type { DiamondLiveGiftEvent } from './live-gift-event.js';
import './define.js';
import '../goal/define.js';
import '../top-gifters/define.js';
import { assert, assertEqual, axeViolations, fixture, json, mountMarkup, until } from '../../test/support.js';

// Counts the streams the page opens: the live elements must share one per creator.
const streams: string[] = [];
const NativeEventSource = window.EventSource;
window.EventSource = class extends NativeEventSource {
  constructor(url: string | URL, init?: EventSourceInit) {
    super(url, init);
    streams.push(String(url));
  }
};

/** Internals the tests read: the feed and its connection's state. */
type Inside = { feed: LiveFeed | undefined };

const send = (name: string, gift = 'rose', extra = '') =>
  json<{ status: number }>(`/__diamonds/live-gift?name=${encodeURIComponent(name)}&gift=${gift}${extra}`);

/** The alerts shown: `[fan, combo text, message]`, newest first. */
function alerts(element: DiamondLiveFeed): Array<[string, string, string]> {
  return [...element.shadowRoot!.querySelectorAll('[part~="gift"]')].map((li) => [
    li.querySelector('[part~="fan"]')?.textContent?.trim() ?? '',
    li.querySelector('[part~="combo"]')?.textContent?.trim() ?? '',
    li.querySelector('[part~="message"]')?.textContent?.trim() ?? '',
  ]);
}

async function mountFeed(attributes = ''): Promise<DiamondLiveFeed> {
  const info = await fixture();
  const container = mountMarkup(
    `<diamond-live-feed publishable-key="${info.publishableKey}" api-base="${info.apiBase}" creator="${info.creatorId}" ${attributes}></diamond-live-feed>`,
  );
  const element = container.querySelector('diamond-live-feed');
  assert(element instanceof DiamondLiveFeed, 'upgraded');
  await until(() => (element as unknown as Inside).feed?.connection.value?.status === 'open', 'the stream open');
  return element;
}

const unique = (name: string) => `${name} ${Math.random().toString(36).slice(2, 7)}`;

describe('<diamond-live-feed>', () => {
  it('shows each gift with its art, fan and message; a combo is one alert whose ×N grows; diamond-live-gift fires', async function () {
    this.timeout(20_000);
    const element = await mountFeed('max="10"');
    const grace = unique('Grace');
    const events: DiamondLiveGiftEvent[] = [];
    element.addEventListener('diamond-live-gift', (event) => events.push(event));
    await send(grace, 'rose', '&message=hello%20%3Cb%3Ethere%3C%2Fb%3E');
    await until(() => alerts(element).some(([fan]) => fan === grace), 'the first rose');
    assertEqual(JSON.stringify(alerts(element)[0]), JSON.stringify([grace, '', 'hello <b>there</b>']), 'no ×1; the message as text');
    const art = element.shadowRoot!.querySelector<HTMLImageElement>('[part~="art"]')!;
    assertEqual(art.alt, 'Rose', 'the art’s alt');
    assert(art.src.endsWith('/gifts/rose.svg'), `the art: ${art.src}`);
    await send(grace);
    await send(grace);
    await until(() => alerts(element)[0]?.[1] === '×3', 'the combo at ×3');
    assertEqual(alerts(element).filter(([fan]) => fan === grace).length, 1, 'one alert for the combo');
    assertEqual(alerts(element)[0]?.[2], 'hello <b>there</b>', 'the combo keeps the first message');
    // Another gift starts a new alert.
    await send(grace, 'heart');
    await until(() => alerts(element).filter(([fan]) => fan === grace).length === 2, 'the heart, apart');
    assertEqual(
      JSON.stringify(events.map((event) => [event.detail.giftTypeId, event.detail.combo])),
      JSON.stringify([
        ['rose', 1],
        ['rose', 2],
        ['rose', 3],
        ['heart', 1],
      ]),
      'one event per new alert or growth',
    );
    // A goal and top gifters of the same creator share the stream.
    const info = await fixture();
    const others = mountMarkup(
      `<diamond-goal publishable-key="${info.publishableKey}" api-base="${info.apiBase}" creator="${info.creatorId}"></diamond-goal>
       <diamond-top-gifters publishable-key="${info.publishableKey}" api-base="${info.apiBase}" creator="${info.creatorId}"></diamond-top-gifters>`,
    );
    await until(
      () => !others.querySelector('diamond-top-gifters')!.shadowRoot?.querySelector('[part~="empty"]')?.textContent?.includes('Loading'),
      'the top gifters',
    );
    assertEqual(streams.length, 1, 'one stream for the three elements');
    others.remove();
    element.remove();
  });

  it('announces through a polite live region at most once per announce-interval, summing up what came meanwhile', async function () {
    this.timeout(20_000);
    const element = await mountFeed('announce-interval="1500"');
    const region = element.shadowRoot!.querySelector('[part~="announcer"]')!;
    assertEqual(region.getAttribute('role'), 'status', 'a status region');
    assertEqual(region.getAttribute('aria-live'), 'polite', 'polite');
    const said: Array<[number, string]> = [];
    new MutationObserver(() => said.push([performance.now(), region.textContent ?? ''])).observe(region, {
      childList: true,
      characterData: true,
      subtree: true,
    });
    const fans = [unique('Ada'), unique('Alan'), unique('Edsger'), unique('Barbara')];
    for (const fan of fans) await send(fan);
    await until(() => said.some(([, text]) => text.includes(fans[3]!)), 'the last gift announced', 8000);
    const texts = said.map(([, text]) => text).filter(Boolean);
    assert(texts.length >= 2 && texts.length < fans.length, `fewer announcements than gifts: ${JSON.stringify(texts)}`);
    for (let i = 1; i < said.length; i++) {
      assert(said[i]![0] - said[i - 1]![0] >= 1400, `${Math.round(said[i]![0] - said[i - 1]![0])} ms between announcements`);
    }
    assert(/, and \d+ more gifts$/.test(texts.at(-1)!), `a summary: ${texts.at(-1)}`);
    element.remove();
  });

  it('reconnects after the server drops the stream, and shows what it missed once, nothing twice', async function () {
    this.timeout(20_000);
    const element = await mountFeed('max="20"');
    const before = unique('Before');
    await send(before);
    await until(() => alerts(element).some(([fan]) => fan === before), 'a gift before the drop');
    const { dropped } = await json<{ dropped: number }>('/__diamonds/live-drop');
    assert(dropped >= 1, 'the server dropped the stream');
    const feed = (element as unknown as Inside).feed!;
    await until(() => feed.connection.value?.status === 'reconnecting', 'reconnecting');
    await until(() => element.shadowRoot!.querySelector('[part~="status"]')?.textContent === 'Reconnecting…', 'says so');
    // Sent while no stream is open: the browser resumes with Last-Event-ID and gets it.
    const during = unique('During');
    await send(during);
    await until(() => feed.connection.value?.status === 'open', 'open again', 10_000);
    await until(() => alerts(element).some(([fan]) => fan === during), 'the missed gift');
    const after = unique('After');
    await send(after);
    await until(() => alerts(element).some(([fan]) => fan === after), 'a gift after');
    const fans = alerts(element).map(([fan]) => fan);
    for (const fan of [before, during, after]) assertEqual(fans.filter((f) => f === fan).length, 1, `${fan} once`);
    const keys = (feed.gifts.value ?? []).map((alert) => alert.giftId);
    assertEqual(new Set(keys).size, keys.length, 'no gift twice in the feed');
    element.remove();
  });

  it('has no axe violations with gifts, light and dark', async function () {
    this.timeout(20_000);
    const element = await mountFeed();
    const fan = unique('Axe');
    await send(fan, 'rose', '&message=great%20show');
    await send(fan);
    await until(() => alerts(element)[0]?.[1] === '×2', 'a combo');
    for (const scheme of ['light', 'dark'] as const) {
      await emulateMedia({ colorScheme: scheme });
      // Measured once the alerts have slid in (they start transparent).
      await Promise.all(element.shadowRoot!.getAnimations().map((animation) => animation.finished));
      assertEqual(await axeViolations(element), '', `axe, ${scheme}`);
    }
    await emulateMedia({ colorScheme: 'light' });
    element.remove();
  });
});
