/**
 * The Diamonds client for a site's backend (`@diamonds/sdk/server`), with the site's secret key:
 * content, products, orders, refunds and sales, and {@link DiamondsServer.verifyReceipt} to check
 * the receipts fans' payments come with, and {@link verifyWebhook} to check the webhook deliveries
 * the platform posts to your backend. Node only: it refuses to run in a page, and the browser
 * entry (`@diamonds/sdk`) never imports it.
 *
 * @example
 * ```ts
 * import { createDiamondsServer, isReceiptVerificationError } from '@diamonds/sdk/server';
 *
 * const diamonds = createDiamondsServer({ secretKey: process.env.DIAMONDS_SECRET_KEY!, siteId: process.env.DIAMONDS_SITE_ID });
 * const order = await diamonds.orders.create({ amountDiamonds: 900, description: 'Custom portrait', reference: 'inv-77' });
 * // … the fan pays it on your page; your page posts the receipt back …
 * try {
 *   const claims = await diamonds.verifyReceipt(receipt);
 *   if (claims.subjectId === order.id) console.log(`Paid ${claims.amountDiamonds} Diamonds`);
 * } catch (error) {
 *   if (isReceiptVerificationError(error)) console.warn('Refused receipt:', error.reason);
 *   else throw error;
 * }
 * ```
 *
 * @packageDocumentation
 */
export {
  createDiamondsServer,
  DiamondsServer,
  DEFAULT_SERVER_API_BASE,
  DEFAULT_SERVER_TIMEOUT_MS,
  DEFAULT_SERVER_MAX_RETRIES,
} from './client.js';
export type { DiamondsServerOptions } from './client.js';
export { ServerContent, ServerProducts, ServerOrders, ServerSales } from './resources.js';
export { ServerEvents } from './events.js';
export { ServerWebhookEndpoints } from './webhook-endpoints.js';
export { ServerFund } from './fund.js';
export { ServerBoosts } from './boosts.js';
export type { CreateBoostParams } from './boosts.js';
export { ServerCollaborations } from './collaborations.js';
export type { InviteCollaboratorParams, SplitShareParams } from './collaborations.js';
export type { CreateWebhookEndpointParams, UpdateWebhookEndpointParams, ReplayWebhookParams } from './webhook-endpoints.js';
export type { EventListParams } from './events.js';
export type {
  ServerCallOptions,
  CreateContentParams,
  UpdateContentParams,
  CreateProductParams,
  UpdateProductParams,
  CreateOrderParams,
  OrderListParams,
} from './resources.js';
export type { PageParams } from './pages.js';
export { RECEIPT_ALGORITHM, DEFAULT_JWKS_REFETCH_INTERVAL_MS } from './receipts.js';
export type { VerifyReceiptOptions } from './receipts.js';
export type { ReceiptClaims } from '@diamonds/protocol';
export { verifyWebhook, signWebhook, DEFAULT_WEBHOOK_TOLERANCE_SECONDS, WEBHOOK_SECRET_PREFIX } from './webhooks.js';
export type {
  WebhookBody,
  WebhookEvent,
  WebhookHeaders,
  VerifyWebhookOptions,
  SignWebhookOptions,
  SignedWebhookHeaders,
} from './webhooks.js';
export {
  WebhookVerificationError,
  WebhookHeaderError,
  WebhookSignatureError,
  WebhookTimestampError,
  WebhookPayloadError,
  isWebhookVerificationError,
} from './webhook-errors.js';
export type { WebhookVerificationReason } from './webhook-errors.js';
export { DiamondsUsageError, ReceiptVerificationError, isReceiptVerificationError, isDiamondsUsageError } from './errors.js';
export type { DiamondsUsageErrorCode, ReceiptVerificationReason } from './errors.js';
export {
  DiamondsError,
  DiamondsApiError,
  InsufficientFundsError,
  AuthenticationError,
  RateLimitError,
  DiamondsNetworkError,
  DiamondsSchemaError,
  isDiamondsError,
  isDiamondsApiError,
  isInsufficientFundsError,
  isAuthenticationError,
  isRateLimitError,
  isDiamondsNetworkError,
  isDiamondsSchemaError,
} from '../errors.js';
export type { DiamondsErrorCode, ClientErrorCode } from '../errors.js';
export type {
  Content,
  ContentBody,
  ContentList,
  Product,
  ProductList,
  Order,
  OrderList,
  OrderLine,
  OrderStatus,
  Page,
  SiteEvent,
  SiteEventType,
  EventList,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
  WebhookEndpointList,
  WebhookDelivery,
  WebhookDeliveryList,
  RolledWebhookSecret,
  WebhookReplay,
  WebhookTestSent,
  FundOverview,
  FundReport,
  FundPeriod,
  FundLine,
  FundRules,
  Boost,
  BoostList,
  BoostStats,
  Collaboration,
  CollaborationList,
  CollaborationStatus,
  Split,
  SplitShare,
  SplitShareInput,
  SplitItemKind,
  SplitView,
} from '@diamonds/protocol';
