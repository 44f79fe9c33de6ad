/**
 * What tests outside this package (the SDK's, the elements', the cross-package suites in
 * `test/`) use of the platform: harnesses that start the real platform on a throw-away
 * database, and the few internals a test acts with where a fan would use a hosted page (approve
 * a confirmation, pay with a test card, let time run out). Imported as
 * `@diamonds/server/testing`, never by relative paths into `packages/server/src`.
 *
 * @packageDocumentation
 */
export { DATABASE_KINDS, TEST_POSTGRES_URL, createTestDatabase, skipUnlessPostgres } from './databases.js';
export type { TestDatabase } from './databases.js';
export { startMoneyHarness, TEST_PAGE_ORIGIN, TEST_SCRYPT_COST } from './money.js';
export type { CallOptions, MoneyHarness, TestFan } from './money.js';
export { allEventsReadable } from './events.js';
export { newDpopKey, accessTokenHash } from './dpop.js';
export type { DpopTestKey, ProofOverrides } from './dpop.js';
export { startElementFixture } from './element-fixture.js';
export type { ElementFixture, ElementFixtureInfo } from './element-fixture.js';
export { sendOk } from '../gifts/testing.js';
export { seedRates, startTopUp } from '../payments/testing.js';

// What a fan does on a hosted page, or what time does, acted out by a test.
export { CONFIRMATION_TTL_MS, decideConfirmationOperation } from '../money/spends.js';
export { expireConfirmations } from '../money/sweeper.js';
export { payWithTestCardOperation } from '../payments/topups.js';
export { reverseTopUpOperation } from '../payments/disputes.js';
export { createSignInRequest, decideSignInRequest, getSignInRequest, pkceChallenge } from '../identity/signin.js';

// Internals the cross-package suites set the world up with.
export { createUser, findUser, findUserByEmail } from '../identity/users.js';
export { createSite, findSite } from '../identity/sites.js';
export { createSession } from '../identity/sessions.js';
export { SESSION_COOKIE } from '../pages/session.js';
export { DECISION_DELAY_MS } from '../pages/guard.js';
export { findConnection } from '../identity/connections.js';
export { answerInvitation, inviteCreator } from '../identity/site-creators.js';
export { createContent } from '../content/content.js';
export { seedDemo } from '../identity/demo.js';
export type { DemoData } from '../identity/demo.js';
export { DEMO_FAN_DIAMONDS, seedDemoMoney } from '../money/demo.js';
export { issueReceipt, rotateSigningKey } from '../money/receipts.js';
export { formatVerifyReport, verifyLedger } from '../ledger/verify.js';
export { listCreatorContent } from '../content/content.js';
export { startExamples } from '../examples.js';
export type { RunningExamples } from '../examples.js';
export { DROP_IN_FILE, dropInScriptName } from '../http/drop-in.js';
