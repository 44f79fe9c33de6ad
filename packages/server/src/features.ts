import { contentMoney } from './content/unlocks.js';
import { boostsMoney } from './boosts/boosts.js';
import { earningsMoney } from './earnings/service.js';
import { fundMoney } from './fund/fund.js';
import { giftsMoney } from './gifts/gifts.js';
import { MoneyRegistry, type MoneyFeature } from './money/operations.js';
import { confirmationsMoney } from './money/spends.js';
import { sweeperMoney } from './money/sweeper.js';
import { ordersMoney } from './orders/orders.js';
import { disputesMoney } from './payments/disputes.js';
import { topUpsMoney } from './payments/topups.js';
import { payoutsMoney } from './payouts/payouts.js';
import { liveMoney } from './live/live.js';
import { overlayMoney } from './live/overlay.js';
import { stripeConnectMoney } from './payouts/stripe-connect.js';
import { webhooksMoney } from './webhooks/operations.js';

/*
 * The platform's features, listed once. A new money feature exports a `MoneyFeature` (its
 * operations, and what settling its held spends does) and is added here; nothing registers
 * itself when imported. The app and the SQLite writer thread both build their registry from
 * this list.
 */

/** Every feature's part in the money path. */
export const platformMoneyFeatures: readonly MoneyFeature[] = [
  confirmationsMoney,
  sweeperMoney,
  giftsMoney,
  contentMoney,
  ordersMoney,
  topUpsMoney,
  disputesMoney,
  webhooksMoney,
  earningsMoney,
  payoutsMoney,
  liveMoney,
  overlayMoney,
  stripeConnectMoney,
  fundMoney,
  boostsMoney,
];

/** The registry of every money operation and settlement of the platform. */
export function platformMoney(): MoneyRegistry {
  return new MoneyRegistry(platformMoneyFeatures);
}
