/**
 * The Diamonds wire contract: one source of truth for the server, which validates requests
 * with these schemas, and the SDK, which parses responses with them.
 *
 * @packageDocumentation
 */
export { ID_PREFIXES, newId, isId, idSchema } from './ids.js';
export { isLowS, toLowS } from './ecdsa.js';
export type { IdPrefix, PrefixedId } from './ids.js';
export { MAX_TRANSFER_DIAMONDS, DiamondAmount, DiamondBalance } from './amounts.js';
export {
  CURRENCY_EXPONENTS,
  CurrencyCode,
  MAX_FIAT_MINOR,
  FiatMoney,
  currencyExponent,
  parseMajorUnits,
  formatMajorUnits,
} from './money.js';
export { ErrorType, ERROR_CODES, ErrorCode, errorStatus, errorType, ErrorBody } from './errors.js';
export { MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT, PageQuery, pageSchema } from './pagination.js';
export type { Page } from './pagination.js';
export {
  TransferCode,
  AccountKind,
  USER_ACCOUNT_KINDS,
  MAX_METADATA_KEYS,
  Metadata,
  AccountId,
  TransferId,
  Posting,
  TransferState,
  Transfer,
  Health,
} from './ledger.js';
export { Rate, RateHistory, RateList, TopUpPack, TopUpPackList, QuoteId, CreateQuote, Quote } from './rates.js';
export {
  SignInRequestId,
  CreateSignInRequest,
  SignInRequest,
  PollSignInRequest,
  ExchangeSignInRequest,
  SignInMessage,
  SignInGrant,
  TokenPair,
  Fan,
  SignInPoll,
  RefreshTokens,
  RevokeToken,
  Me,
} from './identity.js';
export { SpendKind, ConfirmationId, ConfirmationStatus, Confirmation, ConfirmationDecision } from './spends.js';
export * from './payments.js';
export * from './payouts.js';
export * from './live.js';
export { FundRules, FundPeriod, FundLine, FundReport, FundOverview } from './fund.js';
export {
  BoostId,
  BOOST_CPM_DIAMONDS,
  MAX_BOOST_DURATION_MS,
  MAX_BOOST_REPORT_ITEMS,
  BoostItemKind,
  BoostStatus,
  BoostEndReason,
  CreateBoost,
  BoostStats,
  Boost,
  BoostList,
  DiscoverItem,
  DiscoverList,
  BoostReport,
  BoostReportAccepted,
} from './boosts.js';
export * from './gifts.js';
export * from './content.js';
export * from './orders.js';
export * from './wallet.js';
export {
  MAX_SITE_CREATORS,
  SiteCreator,
  SiteCreatorList,
  SiteCreatorStatus,
  SiteCreatorInvitation,
  SiteCreatorInvitationList,
  InviteSiteCreator,
} from './site-creators.js';
export * from './events.js';
export {
  SPLIT_TOTAL_BPS,
  MAX_SPLIT_PARTIES,
  SplitItemKind,
  SplitShareInput,
  SetSplit,
  SplitShare,
  Split,
  SplitView,
  LiveSplit,
  CollaborationStatus,
  Collaboration,
  CollaborationList,
  InviteCollaborator,
  SplitPart,
  SplitUse,
  SplitPaidData,
  SplitRefundedData,
} from './collabs.js';
export * from './receipts.js';
export {
  WebhookEndpointId,
  WebhookDeliveryId,
  MAX_WEBHOOK_ENDPOINTS,
  MAX_WEBHOOK_URL_LENGTH,
  MAX_WEBHOOK_REPLAY,
  WEBHOOK_RETRY_DELAYS_MS,
  WEBHOOK_FAILING_DISABLE_MS,
  WEBHOOK_SECRET_OVERLAP_MS,
  WebhookDisabledReason,
  WebhookEndpoint,
  CreateWebhookEndpoint,
  UpdateWebhookEndpoint,
  WebhookEndpointWithSecret,
  RolledWebhookSecret,
  WebhookDeliveryStatus,
  WebhookDeliveryKind,
  WebhookDelivery,
  WebhookEndpointList,
  WebhookDeliveryList,
  WebhookDeliveryListQuery,
  ReplayWebhookEvents,
  WebhookReplay,
  WebhookTestSent,
  DeletedWebhookEndpoint,
} from './webhooks.js';
