import { html, nothing, type ReactiveController, type ReactiveControllerHost, type TemplateResult } from 'lit';
import { isDiamondsError } from '@diamonds/sdk';
import type { CurrencyCode, DiamondsClientCore, PendingConfirmation, Session, TopUpPack } from '@diamonds/sdk';
import { StoreController } from './store-controller.js';
import { formatDiamonds, formatMoney } from '../i18n/i18n.js';
import type { StringKey } from '../i18n/en.js';

/**
 * Where a spend stands, also a custom state of its element (`:state(confirm)`…), with `busy`
 * while the element waits on the fan or the platform (`signing-in`, `spending`, `topping-up`).
 *
 * - `idle`: nothing under way.
 * - `signing-in`: the sign-in popup, opened by the click, is open.
 * - `confirm`: signed in by that click; the next click opens the confirmation (a popup opened
 *   now, outside a click, would be blocked).
 * - `spending`: sent; when it needs the fan's confirmation, its popup is open.
 * - `topping-up`: the payment popup of the offered top-up is open.
 * - `done`: the spend went through (the element shows its result).
 * - `error`, `insufficient`: it failed, or the wallet holds too little (a Top up button shows).
 *
 * @internal
 */
export type SpendPhase = 'idle' | 'signing-in' | 'confirm' | 'spending' | 'topping-up' | 'done' | 'error' | 'insufficient';

/** One spend a fan asked for: what the controller needs to run it, retry it and top it up. @internal */
export interface SpendIntent<T> {
  /** Names the fan's intent: its `Idempotency-Key` is kept under it in sessionStorage until it is over. */
  slot: string;
  /** What it costs in Diamonds, when known: for the allowance (popup or not) and the top-up offer. */
  amount: number | undefined;
  /** Who receives it, for a gift: the allowance pays only the site's own creators. */
  recipient?: string | undefined;
  /** The button to focus at the confirm step and once a popup is over (the one that started the intent). */
  part: string;
  /**
   * After a sign-in made in the click: reads what the spend depends on again. `false`: nothing
   * to spend any more (already paid, not allowed); the element shows why.
   */
  signedIn?(): Promise<boolean>;
  /** Sends the spend with the intent's key (`undefined` without storage: the SDK makes one per call). */
  send(idempotencyKey: string | undefined): Promise<T>;
  /** It went through: the element shows it (the phase is `done` already) and emits its event. */
  done(result: T): Promise<void> | void;
  /**
   * The element's own word on a failure with `code`: a message to show instead of the common
   * one, `null` when it handled it and `diamond-error` should not go out (already unlocked), or
   * `undefined` for the common message.
   */
  explain?(code: string | undefined): Promise<string | null | undefined> | string | null | undefined;
}

/** What the controller needs of its element. @internal */
export interface SpendHost extends ReactiveControllerHost, HTMLElement {
  readonly client: DiamondsClientCore | undefined;
  readonly currency: CurrencyCode;
  readonly resolvedLocale: string;
  readonly renderRoot: HTMLElement | DocumentFragment;
  t(key: StringKey, params?: Record<string, string | number>): string;
  reportError(error: unknown): string;
  refocus(target: () => Element | null | undefined, always?: boolean): Promise<void>;
}

/** The element's own strings of a spend: `gift.signing-in`, `paywall.confirm`, `checkout.spending`. @internal */
export type SpendStrings = 'gift' | 'paywall' | 'checkout';

/** Failures after which the same intent is retried with the same key: nothing (or a pending confirmation) was stored. */
const KEEP_KEY = ['network_error', 'timeout', 'insufficient_funds', 'popup_closed', 'popup_blocked'];

/**
 * The `Idempotency-Key` kept under `slot` in sessionStorage (made on first use), so a retry of
 * the same intent, after a lost answer, a top-up or a reload, is applied once; `drop` forgets it.
 */
function keyOf(slot: string, drop?: boolean): string | undefined {
  try {
    if (drop) return void sessionStorage.removeItem(slot);
    const key = sessionStorage.getItem(slot) ?? crypto.randomUUID();
    sessionStorage.setItem(slot, key);
    return key;
  } catch {
    return undefined; // no storage (or no secure context): the SDK makes a key per call
  }
}

/**
 * Whether a spend of `amountDiamonds` (to `recipientId`, for a gift) can go on at once after the
 * sign-in its click started: the sign-in popup used up the click's user activation, so a
 * confirmation popup opened now would be blocked. It can within what is left of the allowance
 * and to a creator it pays, or with too little in the wallet (the platform refuses it, and a
 * top-up is offered). Reads the wallet and the allowance first.
 */
async function spendsWithoutPopup(client: DiamondsClientCore, amountDiamonds: number | undefined, recipientId?: string): Promise<boolean> {
  const wallet = await client.wallet.refresh().catch(() => undefined);
  const allowance = client.allowance.get();
  if (amountDiamonds === undefined) return false;
  const allowed = !!allowance && amountDiamonds <= allowance.remaining && (!recipientId || allowance.recipients.includes(recipientId));
  return allowed || (wallet?.balanceDiamonds ?? amountDiamonds) < amountDiamonds;
}

/**
 * The one spend flow of the gift button, the paywall and the checkout: sign in from the click
 * (then the spend, or the confirm step when it needs a popup), the confirmation popup, "not
 * enough Diamonds: top up, then the same spend again", one `Idempotency-Key` per intent kept
 * across every retry, focus back where the fan was once a popup is over, a reset when the fan
 * signs out, and the phase as custom states for styling.
 *
 * @remarks The element renders {@link SpendController.status}, {@link SpendController.alert} and
 * {@link SpendController.renderTopUp}, and calls {@link SpendController.run} from its click.
 * @internal
 */
export class SpendController implements ReactiveController {
  /** Where the spend stands; set it with {@link SpendController.show}. */
  phase: SpendPhase = 'idle';
  /** The message of `done` and of the failures. */
  note = '';
  /** The smallest top-up pack covering what the spend lacks, once read. */
  pack: TopUpPack | undefined;
  /** The fan's sign-in. */
  readonly session: StoreController<Session>;
  readonly #pending: StoreController<readonly PendingConfirmation[]>;
  readonly #host: SpendHost;
  readonly #strings: SpendStrings;
  readonly #internals: ElementInternals;
  readonly #signedOut: () => void;
  #intent: SpendIntent<unknown> | undefined;
  #shortfall = 1;
  /** The fan seen at the last update (`''` signed out), to notice a sign-out. */
  #fan = '';

  /** @param signedOut - What the element forgets when the fan signs out (an unlocked body…). */
  constructor(host: SpendHost, strings: SpendStrings, signedOut: () => void = () => {}) {
    this.#host = host;
    this.#strings = strings;
    this.#signedOut = signedOut;
    this.#internals = host.attachInternals();
    this.session = new StoreController(host);
    this.#pending = new StoreController(host);
    host.addController(this);
  }

  /** Follows the stores of the element's (new) client. */
  follow(client: DiamondsClientCore | undefined): void {
    this.session.follow(client?.session);
    this.#pending.follow(client?.confirmations);
  }

  /** The signed-in fan's id (`''` when signed out). */
  get fan(): string {
    const session = this.session.value;
    return session?.status === 'signed_in' ? (session.fan?.id ?? '?') : '';
  }

  /** Whether the element waits on the fan or the platform. */
  get busy(): boolean {
    return this.phase === 'signing-in' || this.phase === 'spending' || this.phase === 'topping-up';
  }

  /** Before each update: a sign-out resets the spend; a signed-in fan's allowance is read before any click. */
  hostUpdate(): void {
    const fan = this.fan;
    if (fan !== this.#fan) {
      const was = this.#fan;
      this.#fan = fan;
      if (was && !this.busy) {
        this.#intent = undefined;
        this.#set('idle', '');
        this.#signedOut();
      }
    }
    // The allowance must be known before the click, for the SDK to decide the popup in it.
    const client = this.#host.client;
    if (client && fan && client.wallet.get().status === 'idle') client.wallet.refresh().catch(() => undefined);
  }

  /** Moves to `phase` with its message. */
  show(phase: SpendPhase, note = ''): void {
    this.#set(phase, note);
    this.#host.requestUpdate();
  }

  #set(phase: SpendPhase, note: string): void {
    this.phase = phase;
    this.note = note;
    const states = (this.#internals as { states?: Set<string> }).states;
    try {
      states?.clear();
      if (phase !== 'idle') states?.add(phase);
      if (this.busy) states?.add('busy');
    } catch {
      // An older browser without custom states.
    }
  }

  /**
   * Runs `intent` from the fan's click: signs in first when needed (the popup opens now, in the
   * click), then spends, at once or after the confirm step. Does nothing while busy.
   */
  run<T>(intent: SpendIntent<T>): void {
    const client = this.#host.client;
    if (!client || this.busy) return;
    this.#intent = intent as SpendIntent<unknown>;
    const signIn = this.fan ? undefined : client.signIn();
    signIn?.catch(() => undefined); // handled below; not an unhandled rejection meanwhile
    this.show(signIn ? 'signing-in' : 'spending');
    void this.#go(client, intent, signIn);
  }

  async #go<T>(client: DiamondsClientCore, intent: SpendIntent<T>, signIn: Promise<unknown> | undefined): Promise<void> {
    let focus = false;
    try {
      if (signIn) {
        await signIn;
        if (intent.signedIn && !(await intent.signedIn())) return;
        if (!(await spendsWithoutPopup(client, intent.amount, intent.recipient))) {
          this.show('confirm');
          focus = true;
          return;
        }
        this.show('spending');
      }
      const result = await intent.send(keyOf(intent.slot));
      keyOf(intent.slot, true);
      this.show('done');
      await intent.done(result);
    } catch (error) {
      const code = isDiamondsError(error) ? error.code : undefined;
      if (!KEEP_KEY.includes(code!)) keyOf(intent.slot, true);
      const own = await intent.explain?.(code);
      if (own === null) return;
      const note = this.#host.reportError(error);
      this.show(code === 'insufficient_funds' ? 'insufficient' : 'error', own ?? note);
      if (code === 'insufficient_funds') this.#offer(client, intent.amount ?? 0);
    } finally {
      await this.#refocus(intent.part, focus);
    }
  }

  /**
   * Gives focus back to the intent's button (the one that started it, or its Send in a picker:
   * a Top up button is gone by then): always at the confirm step, otherwise only when the flow
   * took focus away.
   */
  #refocus(part: string, always: boolean): Promise<void> {
    return this.#host.refocus(() => this.#host.renderRoot.querySelector(`[part~="${part}"]`), always);
  }

  /** Works out what the spend lacks and reads the smallest pack that covers it, before the fan clicks "Top up". */
  #offer(client: DiamondsClientCore, need: number): void {
    const shortfall = (this.#shortfall = Math.max(1, need - (client.wallet.get().balanceDiamonds ?? 0)));
    this.pack = undefined;
    client.topUpPacks(this.#host.currency).then(
      (packs) => {
        this.pack = packs.find((pack) => pack.diamonds >= shortfall);
        this.#host.requestUpdate();
      },
      () => undefined, // the offer then buys exactly the shortfall
    );
  }

  /** The Top up click: buys the pack (its popup opens now), then runs the same intent again, with its key. */
  readonly topUp = (): void => {
    const client = this.#host.client;
    const intent = this.#intent;
    if (!client || !intent || this.busy) return;
    const bought = client.topUp({ diamonds: this.pack?.diamonds ?? this.#shortfall, currency: this.#host.currency });
    this.show('topping-up');
    bought.then(
      () => {
        this.phase = 'idle';
        this.run(intent);
      },
      async (error: unknown) => {
        this.show('error', this.#host.reportError(error));
        await this.#refocus(intent.part, false);
      },
    );
  };

  /** The status line of a spend under way, or the message of `done`; `''` otherwise. */
  status(): string {
    const phase = this.phase as 'signing-in' | 'confirm' | 'spending';
    if (phase === ('done' as SpendPhase)) return this.note;
    if (!this.busy && phase !== 'confirm') return '';
    return this.#host.t(
      phase === ('topping-up' as SpendPhase)
        ? 'spend.topping-up'
        : phase === 'spending' && this.#pending.value?.length
          ? 'common.confirming'
          : `${this.#strings}.${phase}`,
    );
  }

  /** The alert's message: the failure's, or `''`. */
  get alert(): string {
    return this.phase === 'error' || this.phase === 'insufficient' ? this.note : '';
  }

  /** The "Top up" button, while the wallet holds too little. */
  renderTopUp(): TemplateResult | typeof nothing {
    if (this.phase !== 'insufficient') return nothing;
    const { pack } = this;
    const host = this.#host;
    const locale = host.resolvedLocale;
    return html`<button part="top-up" @click=${this.topUp}>
      ${
        pack
          ? host.t('spend.topUpPack', { diamonds: formatDiamonds(locale, pack.diamonds), price: formatMoney(locale, pack.price) })
          : host.t('common.topUp')
      }
    </button>`;
  }
}
