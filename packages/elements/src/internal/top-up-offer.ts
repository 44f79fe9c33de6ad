import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { CurrencyCode, DiamondsClientCore, TopUpPack } from '@diamonds/sdk';

/**
 * The "not enough Diamonds, top up" offer the spending elements share: finds the smallest pack
 * that covers what a spend lacks (before the fan clicks, so the click can open the payment
 * popup at once), then buys it.
 *
 * @internal
 */
export class TopUpOffer implements ReactiveController {
  /** The smallest pack covering the shortfall, once the packs are read. */
  pack: TopUpPack | undefined;
  /** What the spend lacks, in Diamonds (at least 1). */
  shortfall = 1;
  readonly #host: ReactiveControllerHost;

  constructor(host: ReactiveControllerHost) {
    this.#host = host;
    host.addController(this);
  }

  /** Nothing to follow while connected: the offer is made on demand. */
  hostConnected(): void {}

  /** Works out what a spend of `need` Diamonds lacks, and reads the pack that covers it. */
  prepare(client: DiamondsClientCore, need: number, currency: CurrencyCode): void {
    const shortfall = Math.max(1, need - (client.wallet.get().balanceDiamonds ?? 0));
    this.shortfall = shortfall;
    this.pack = undefined;
    client.topUpPacks(currency).then(
      (packs) => {
        this.pack = packs.find((pack) => pack.diamonds >= shortfall);
        this.#host.requestUpdate();
      },
      () => undefined, // the offer then buys exactly the shortfall
    );
  }

  /** Buys the pack (or exactly the shortfall); call it in the click, so the popup opens in it. */
  buy(client: DiamondsClientCore, currency: CurrencyCode): Promise<unknown> {
    return client.topUp({ diamonds: this.pack?.diamonds ?? this.shortfall, currency });
  }
}
