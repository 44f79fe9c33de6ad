/**
 * The Diamonds client for browsers and Node: one {@link DiamondsClient} per site, made with
 * {@link createDiamonds}, whose calls resolve with data parsed by the protocol's schemas or
 * reject with a typed {@link DiamondsError}.
 *
 * @example
 * ```ts
 * import { createDiamonds, isDiamondsError } from '@diamonds/sdk';
 *
 * const diamonds = createDiamonds({ publishableKey: 'pk_test_123', apiBase: 'https://diamonds.example.com' });
 * try {
 *   console.log((await diamonds.health()).status);
 * } catch (error) {
 *   if (isDiamondsError(error)) console.error(error.code, error.requestId);
 * }
 * ```
 *
 * @packageDocumentation
 */
export { createDiamonds, DiamondsClient, DiamondsClientCore, DEFAULT_API_BASE, DEFAULT_TIMEOUT_MS, DEFAULT_MAX_RETRIES } from './client.js';
export type { DiamondsOptions, CallOptions } from './client.js';
export type { Session, SessionStatus, Allowance, WalletState, PendingConfirmation } from './stores.js';
export type { StorageLike, StorageOption } from './internal/browser.js';
export { GiftsResource } from './money/gifts.js';
export type { SendGiftParams } from './money/gifts.js';
export { ContentResource } from './money/content.js';
export type { UnlockedContent } from './money/content.js';
export { OrdersResource } from './money/orders.js';
export type { WalletStore, WalletActions, HistoryOptions } from './money/wallet.js';
export type { SpendOptions } from './money/spend.js';
export type { TopUpParams } from './money/topup.js';
export {
  DiamondsError,
  DiamondsApiError,
  InsufficientFundsError,
  AuthenticationError,
  RateLimitError,
  DiamondsNetworkError,
  DiamondsSchemaError,
  SignInRequiredError,
  DiamondsOutcomeError,
  PopupBlockedError,
  PopupClosedError,
  SignInDeniedError,
  SignInExpiredError,
  ConfirmationDeclinedError,
  ConfirmationExpiredError,
  TopUpFailedError,
  isDiamondsError,
  isDiamondsApiError,
  isInsufficientFundsError,
  isAuthenticationError,
  isRateLimitError,
  isDiamondsNetworkError,
  isDiamondsSchemaError,
  isSignInRequiredError,
  isDiamondsOutcomeError,
  isPopupBlockedError,
  isPopupClosedError,
  isSignInDeniedError,
  isSignInExpiredError,
  isConfirmationDeclinedError,
  isConfirmationExpiredError,
  isTopUpFailedError,
} from './errors.js';
export type {
  ClientErrorCode,
  DiamondsErrorCode,
  DiamondsErrorOptions,
  DiamondsApiErrorOptions,
  RateLimitErrorOptions,
  PopupBlockedErrorOptions,
} from './errors.js';
export type {
  Health,
  Fan,
  Me,
  GiftType,
  Gift,
  SiteCreator,
  LiveSplit,
  SplitShare,
  Confirmation,
  Content,
  ContentList,
  ContentBody,
  Entitlement,
  Unlock,
  CheckoutOrder,
  OrderLine,
  Wallet,
  WalletEntry,
  TransferCode,
  WalletAccount,
  Rate,
  TopUpPack,
  Quote,
  TopUp,
  FiatMoney,
  CurrencyCode,
  LiveGift,
  LiveGoal,
  LiveTopGifters,
  LiveSessionState,
  LiveSnapshot,
  TopGiftersScope,
} from '@diamonds/protocol';
