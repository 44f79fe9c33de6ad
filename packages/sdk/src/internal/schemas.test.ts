// The SDK's response validators (check.ts, kept apart from the protocol's full zod schemas for
// the bundle size) mirror the protocol's: both must accept and refuse the same bodies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as protocol from '@diamonds/protocol';
import * as sdk from './schemas.js';

const BODY = '01JD3S9ZK4W8Q2V7C5XH6RTB0M';
const id = (prefix: string) => `${prefix}_${BODY}`;
const USR = id('usr');
const SITE = id('site');
const SIR = id('sir');
const tokens = { accessToken: 'dat_x', expiresIn: 900, refreshToken: 'drt_y' };
const me = {
  object: 'me',
  fan: { id: USR, displayName: 'Grace' },
  site: { id: SITE, name: 'Ada' },
  allowancePerDay: 50,
  remainingAllowance: 20,
  allowanceRecipients: [USR],
};
const health = { status: 'ok', database: 'sqlite', schemaVersion: 3, version: '0.1.0' };
const errorBody = { error: { type: 'ledger_error', code: 'insufficient_funds', message: 'no', requestId: 'req_1' } };
const signInRequest = {
  object: 'signin_request',
  id: SIR,
  status: 'pending',
  url: 'http://localhost:8787/signin/authorize?request=x',
  expiresAt: 1,
};
const approved = { status: 'approved', fan: { id: USR, displayName: 'Grace' }, tokens };

const cases: [
  name: string,
  ours: sdk.ResponseSchema<unknown>,
  theirs: { safeParse(value: unknown): { success: boolean; data?: unknown } },
  bodies: unknown[],
][] = [
  [
    'Health',
    sdk.Health,
    protocol.Health,
    [
      health,
      { ...health, database: 'postgres', extra: 'dropped' },
      { ...health, status: 'fine' },
      { ...health, database: 'mysql' },
      { ...health, schemaVersion: -1 },
      { ...health, schemaVersion: 1.5 },
      { ...health, schemaVersion: '3' },
      { ...health, version: undefined },
      { ...health, version: 1 },
      'ok',
      null,
      [],
    ],
  ],
  [
    'ErrorBody',
    sdk.ErrorBody,
    protocol.ErrorBody,
    [
      errorBody,
      { error: { ...errorBody.error, param: 'amountDiamonds' } },
      { error: { ...errorBody.error, code: '' } },
      { error: { ...errorBody.error, code: 3 } },
      { error: { ...errorBody.error, param: 3 } },
      { error: { ...errorBody.error, requestId: undefined } },
      { error: 'insufficient_funds' },
      { message: 'not ours' },
      undefined,
    ],
  ],
  [
    'TokenPair',
    sdk.TokenPair,
    protocol.TokenPair,
    [
      tokens,
      { ...tokens, extra: 1 },
      { ...tokens, accessToken: 'drt_x' },
      { ...tokens, accessToken: 3 },
      { ...tokens, expiresIn: 0 },
      { ...tokens, expiresIn: -1 },
      { ...tokens, expiresIn: 1.5 },
      { ...tokens, expiresIn: undefined },
      { ...tokens, refreshToken: 'x' },
    ],
  ],
  [
    'SignInRequest',
    sdk.SignInRequest,
    protocol.SignInRequest,
    [
      signInRequest,
      { ...signInRequest, url: '  http://localhost:8787/signin\n  ' },
      { ...signInRequest, status: 'approved' },
      { ...signInRequest, url: 'not a url' },
      { ...signInRequest, url: 3 },
      { ...signInRequest, id: USR },
      { ...signInRequest, id: 'sir_' },
      { ...signInRequest, id: undefined },
      { ...signInRequest, expiresAt: 1.5 },
      { ...signInRequest, object: 'signin' },
    ],
  ],
  [
    'SignInPoll',
    sdk.SignInPoll,
    protocol.SignInPoll,
    [
      { status: 'pending' },
      { status: 'denied' },
      { status: 'expired', fan: 'dropped' },
      { status: 'approved' },
      { ...approved, extra: 'dropped' },
      { status: 'maybe' },
      { status: 3 },
      {},
      null,
      'pending',
    ],
  ],
  [
    'SignInGrant',
    sdk.SignInGrant,
    protocol.SignInGrant,
    [
      approved,
      { ...approved, extra: 'dropped' },
      { status: 'approved' },
      { ...approved, status: 'pending' },
      { ...approved, fan: { id: SITE, displayName: 'Grace' } },
      { ...approved, tokens: { ...tokens, expiresIn: 0 } },
      { ...approved, tokens: undefined },
      null,
    ],
  ],
  [
    'Me',
    sdk.Me,
    protocol.Me,
    [
      me,
      { ...me, extra: 1 },
      { ...me, remainingAllowance: -1 },
      { ...me, allowancePerDay: 1.5 },
      { ...me, allowanceRecipients: [] },
      { ...me, allowanceRecipients: [USR, id('usr')] },
      { ...me, allowanceRecipients: undefined },
      { ...me, allowanceRecipients: USR },
      { ...me, allowanceRecipients: [SITE] },
      { ...me, fan: { id: SITE, displayName: 'x' } },
      { ...me, fan: { id: USR } },
      { ...me, fan: { id: [USR], displayName: 'x' } },
      { ...me, site: { id: USR, name: 'Ada' } },
      { ...me, site: undefined },
      { ...me, object: 'fan' },
    ],
  ],
];

describe('SDK response schemas', () => {
  for (const [name, ours, theirs, bodies] of cases) {
    it(`${name} agrees with the protocol's schema`, () => {
      for (const body of bodies) {
        const [a, b] = [ours.safeParse(body), theirs.safeParse(body)];
        assert.equal(a.success, b.success, `${name}: ${JSON.stringify(body)}`);
        // Accepted bodies parse to the same value: unknown fields dropped, URLs trimmed.
        if (a.success) assert.deepEqual(a.data, b.data, `${name}: ${JSON.stringify(body)}`);
      }
    });
  }

  it('Revoked accepts `{ revoked: true }` only', () => {
    assert.deepEqual(sdk.Revoked.safeParse({ revoked: true, extra: 1 }), { success: true, data: { revoked: true } });
    for (const body of [{ revoked: false }, { revoked: 'true' }, {}, null]) {
      assert.equal(sdk.Revoked.safeParse(body).success, false, JSON.stringify(body));
    }
  });
});

// The money schemas are loose on purpose (they check what the SDK acts on and pass the rest
// through): every body the protocol accepts must pass whole, and the fields the SDK relies on
// must be refused when wrong (as the protocol refuses them too).
const CNF = id('cnf');
const confirmation = {
  object: 'confirmation',
  id: CNF,
  kind: 'gift',
  status: 'pending',
  amountDiamonds: 50,
  description: '1 × Star for Ada',
  subjectId: id('gift'),
  url: 'http://localhost:8787/confirm/' + CNF,
  transferId: null,
  createdAt: 1,
  expiresAt: 2,
  decidedAt: null,
};
const gift = {
  object: 'gift',
  id: id('gift'),
  status: 'confirmation_required',
  giftId: 'star',
  giftName: 'Star',
  quantity: 1,
  unitPriceDiamonds: 50,
  amountDiamonds: 50,
  fanId: USR,
  creatorId: USR,
  siteId: SITE,
  message: null,
  transferId: null,
  confirmation,
  createdAt: 1,
};
const page = (...data: unknown[]) => ({ object: 'list', data, hasMore: false, nextCursor: null });
const giftType = { object: 'gift_type', id: 'star', name: 'Star', priceDiamonds: 50, artUrl: '/star.svg', animation: 'float' };
const entitlement = {
  object: 'entitlement',
  id: id('ent'),
  contentId: id('ct'),
  fanId: USR,
  status: 'active',
  amountDiamonds: 50,
  transferId: id('txn'),
  receipt: 'rcpt',
  createdAt: 1,
};
const pendingEntitlement = { ...entitlement, status: 'pending_confirmation', transferId: null, receipt: null };
const unlocked = { object: 'unlock', status: 'succeeded', entitlement, receipt: 'rcpt' };
const unlockToConfirm = {
  object: 'unlock',
  status: 'confirmation_required',
  entitlement: pendingEntitlement,
  confirmation: { ...confirmation, kind: 'unlock' },
};
const content = {
  object: 'content',
  id: id('ct'),
  siteId: SITE,
  creator: { id: USR, displayName: 'Ada' },
  title: 'Notes',
  teaser: 'Some notes',
  format: 'markdown',
  priceDiamonds: 50,
  thresholdDiamonds: null,
  createdAt: 1,
  updatedAt: 1,
  archivedAt: null,
  entitled: false,
};
const contentBody = { object: 'content_body', id: id('ct'), html: '<p>Hi</p>', externalUrl: null };
const order = {
  object: 'order',
  id: id('ord'),
  siteId: SITE,
  status: 'open',
  totalDiamonds: 50,
  lines: [{ productId: id('prod'), name: 'Mug', unitPriceDiamonds: 25, quantity: 2, amountDiamonds: 50 }],
  fanId: null,
  transferId: null,
  receipt: null,
  createdAt: 1,
  paidAt: null,
  refundedAt: null,
};
const orderToConfirm = { ...order, status: 'pending_confirmation', fanId: USR, confirmation: { ...confirmation, kind: 'order' } };
const paidOrder = { ...order, status: 'paid', fanId: USR, transferId: id('txn'), receipt: 'rcpt', paidAt: 2, confirmation: null };
const product = {
  object: 'product',
  id: id('prod'),
  name: 'Mug',
  priceDiamonds: 25,
  stock: null,
  imageUrl: null,
  active: true,
  createdAt: 1,
};
const wallet = {
  object: 'wallet',
  balanceDiamonds: 5,
  heldDiamonds: 0,
  earningsDiamonds: 0,
  remainingAllowance: 3,
  allowancePerDay: 10,
  allowanceRecipients: [USR],
};
const walletEntry = {
  object: 'wallet_entry',
  id: 'we_1',
  transferId: id('txn'),
  kind: 'gift',
  account: 'wallet',
  direction: 'out',
  amountDiamonds: 50,
  description: '1 × Star for Ada',
  subjectId: null,
  status: 'posted',
  createdAt: 1,
};
const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });
const rate = { object: 'rate', currency: 'USD', priceMinorPer1000Diamonds: 1300, payoutMinorPer1000Diamonds: 1000, effectiveAt: 1 };
const pack = { object: 'topup_pack', diamonds: 500, price: usd(650) };
const quote = {
  object: 'quote',
  id: id('qt'),
  diamonds: 500,
  price: usd(650),
  fee: usd(0),
  total: usd(650),
  rateEffectiveAt: 1,
  expiresAt: 2,
};
const topUp = {
  object: 'topup',
  id: id('tu'),
  status: 'failed',
  provider: 'test',
  diamonds: 500,
  price: usd(650),
  quoteId: id('qt'),
  paymentUrl: null,
  failureCode: 'card_declined',
  transferId: null,
  createdAt: 1,
};

const moneyCases: [
  name: string,
  ours: sdk.ResponseSchema<unknown>,
  theirs: { parse(value: unknown): unknown; safeParse(value: unknown): { success: boolean } },
  valid: unknown[],
  wrong: unknown[],
][] = [
  [
    'Confirmation',
    sdk.Confirmation,
    protocol.Confirmation,
    [confirmation, { ...confirmation, status: 'approved', decidedAt: 2 }],
    [
      { ...confirmation, status: 'maybe' },
      { ...confirmation, id: USR },
      { ...confirmation, amountDiamonds: -1 },
      { ...confirmation, amountDiamonds: 1.5 },
      { ...confirmation, description: undefined },
      { ...confirmation, expiresAt: '2' },
      { ...confirmation, object: 'gift' },
    ],
  ],
  [
    'GiftTypeList',
    sdk.GiftTypeList,
    protocol.GiftTypeList,
    [page(giftType, { ...giftType, id: 'heart' }), page()],
    [
      { ...page(giftType), object: 'page' },
      page({ ...giftType, priceDiamonds: -1 }),
      page({ ...giftType, priceDiamonds: 2.5 }),
      page({ ...giftType, id: 3 }),
      { ...page(), data: giftType },
      { ...page(), hasMore: undefined },
      { ...page(), nextCursor: 3 },
    ],
  ],
  [
    'Gift',
    sdk.Gift,
    protocol.Gift,
    [gift, { ...gift, status: 'succeeded', confirmation: undefined, transferId: id('txn') }],
    [
      { ...gift, object: 'gift_type' },
      { ...gift, id: 'gft_' + BODY },
      { ...gift, id: undefined },
      { ...gift, status: 3 },
      { ...gift, confirmation: { ...confirmation, amountDiamonds: -1 } },
      { ...gift, confirmation: { ...confirmation, status: 'maybe' } },
    ],
  ],
  [
    'Entitlement',
    sdk.Entitlement,
    protocol.Entitlement,
    [entitlement, pendingEntitlement],
    [
      { ...entitlement, object: 'unlock' },
      { ...entitlement, status: undefined },
      { ...entitlement, receipt: 3 },
      { ...entitlement, receipt: undefined },
    ],
  ],
  [
    'Unlock',
    sdk.Unlock,
    protocol.Unlock,
    [unlocked, unlockToConfirm],
    [
      { ...unlocked, status: 'pending' },
      { ...unlocked, object: 'entitlement' },
      { ...unlocked, entitlement: undefined },
      { ...unlocked, entitlement: { ...entitlement, receipt: 3 } },
      { ...unlockToConfirm, confirmation: { ...confirmation, id: USR } },
    ],
  ],
  [
    'Content',
    sdk.Content,
    protocol.Content,
    [content, { ...content, priceDiamonds: null, thresholdDiamonds: 500, supportedDiamonds: 20, remainingToThreshold: 480 }],
    [
      { ...content, id: 'cnt_' + BODY },
      { ...content, id: USR },
      { ...content, priceDiamonds: -1 },
      { ...content, priceDiamonds: 1.5 },
      { ...content, priceDiamonds: '50' },
      { ...content, priceDiamonds: undefined },
      { ...content, object: 'content_body' },
    ],
  ],
  [
    'ContentList',
    sdk.ContentList,
    protocol.ContentList,
    [page(content, { ...content, id: id('ct').replace('01', '02') }), { ...page(content), hasMore: true, nextCursor: 'c1' }],
    [
      page(content, { ...content, priceDiamonds: -1 }),
      page({ ...content, id: SITE }),
      { ...page(content), hasMore: 'no' },
      { ...page(content), data: undefined },
      { ...page(content), object: 'content' },
    ],
  ],
  [
    'ContentBody',
    sdk.ContentBody,
    protocol.ContentBody,
    [contentBody, { ...contentBody, html: null, externalUrl: 'https://example.com/post' }],
    [
      { ...contentBody, html: 3 },
      { ...contentBody, externalUrl: undefined },
      { ...contentBody, object: 'content' },
    ],
  ],
  [
    'CheckoutOrder',
    sdk.CheckoutOrder,
    protocol.CheckoutOrder,
    [order, { ...paidOrder, confirmation: undefined }],
    [
      { ...order, id: id('prod') },
      { ...order, totalDiamonds: -5 },
      { ...order, totalDiamonds: 2.5 },
      { ...order, receipt: 3 },
      { ...order, status: undefined },
      { ...order, object: 'product' },
    ],
  ],
  [
    'ProductList',
    sdk.ProductList,
    protocol.ProductList,
    [page(product, { ...product, stock: 3, imageUrl: '/mug.png' })],
    [
      page({ ...product, id: 'prd_' + BODY }),
      page({ ...product, priceDiamonds: 2.5 }),
      page({ ...product, priceDiamonds: -1 }),
      page({ ...product, object: 'order' }),
      { ...page(product), nextCursor: undefined },
    ],
  ],
  [
    'PayOrderResult',
    sdk.PayOrderResult,
    protocol.PayOrderResult,
    [orderToConfirm, paidOrder],
    [
      { ...orderToConfirm, confirmation: { ...confirmation, status: 'maybe' } },
      { ...orderToConfirm, confirmation: { ...confirmation, amountDiamonds: 1.5 } },
      { ...paidOrder, totalDiamonds: '50' },
      { ...paidOrder, id: CNF },
    ],
  ],
  [
    'Wallet',
    sdk.Wallet,
    protocol.Wallet,
    [wallet],
    [
      { ...wallet, balanceDiamonds: 1.5 },
      { ...wallet, balanceDiamonds: '5' },
      { ...wallet, remainingAllowance: undefined },
      { ...wallet, allowanceRecipients: undefined },
      { ...wallet, allowanceRecipients: [SITE] },
      { ...wallet, object: 'balance' },
    ],
  ],
  [
    'WalletHistory',
    sdk.WalletHistory,
    protocol.WalletHistory,
    [page(walletEntry, { ...walletEntry, id: 'we_2', direction: 'in', account: 'earnings' }), page()],
    [
      page({ ...walletEntry, amountDiamonds: -1 }),
      page({ ...walletEntry, amountDiamonds: 0.5 }),
      page({ ...walletEntry, id: undefined }),
      page({ ...walletEntry, object: 'wallet' }),
    ],
  ],
  [
    'RateList',
    sdk.RateList,
    protocol.RateList,
    [page(rate)],
    [page({ ...rate, currency: 3 }), page({ ...rate, object: 'rates' }), { ...page(rate), object: 'rates' }],
  ],
  [
    'TopUpPackList',
    sdk.TopUpPackList,
    protocol.TopUpPackList,
    [page(pack, { ...pack, diamonds: 1000, price: usd(1200) })],
    [
      page({ ...pack, diamonds: -1 }),
      page({ ...pack, diamonds: 1.5 }),
      page({ ...pack, diamonds: undefined }),
      page({ ...pack, object: 'pack' }),
    ],
  ],
  [
    'Quote',
    sdk.Quote,
    protocol.Quote,
    [quote],
    [
      { ...quote, id: 'quo_' + BODY },
      { ...quote, diamonds: -1 },
      { ...quote, diamonds: 1.5 },
      { ...quote, object: 'topup' },
    ],
  ],
  [
    'TopUp',
    sdk.TopUp,
    protocol.TopUp,
    [topUp, { ...topUp, status: 'requires_action', paymentUrl: 'http://localhost:8787/pay/x', failureCode: null }],
    [
      { ...topUp, status: 'paid' },
      { ...topUp, failureCode: 3 },
      { ...topUp, paymentUrl: undefined },
      { ...topUp, id: id('qt') },
      { ...topUp, object: 'quote' },
    ],
  ],
];

describe('SDK money response schemas', () => {
  for (const [name, ours, theirs, valid, wrong] of moneyCases) {
    it(`${name} keeps every field of a protocol body and refuses what the SDK relies on when wrong`, () => {
      for (const body of valid) {
        theirs.parse(body);
        const parsed = ours.safeParse(body);
        assert.ok(parsed.success, JSON.stringify(body));
        assert.deepEqual(parsed.data, body);
      }
      for (const body of wrong) {
        assert.equal(theirs.safeParse(body).success, false, `the protocol accepts ${JSON.stringify(body)}`);
        assert.equal(ours.safeParse(body).success, false, JSON.stringify(body));
      }
    });
  }

  it('covers every exported validator', () => {
    const tested = new Set([...cases.map(([name]) => name), ...moneyCases.map(([name]) => name), 'Revoked']);
    const exported = Object.entries(sdk)
      .filter(([, value]) => typeof value === 'object' && value !== null && 'safeParse' in value)
      .map(([name]) => name);
    assert.deepEqual(
      exported.filter((name) => !tested.has(name)),
      [],
    );
  });
});

describe('SDK schema issues', () => {
  const issues = (schema: sdk.ResponseSchema<unknown>, body: unknown) => {
    const result = schema.safeParse(body);
    assert.equal(result.success, false);
    return result.success ? [] : result.error.issues.map(({ path, message }) => ({ path: [...path], message }));
  };

  it('name the field and say what was expected and what came', () => {
    assert.deepEqual(issues(sdk.Me, { ...me, fan: { id: SITE, displayName: 'x' } }), [
      { path: ['fan', 'id'], message: `expected an id like "usr_…", got "${SITE}"` },
    ]);
    assert.deepEqual(issues(sdk.ContentList, page(content, { ...content, priceDiamonds: -1 })), [
      { path: ['data', 1, 'priceDiamonds'], message: 'expected an integer ≥ 0, got -1' },
    ]);
    assert.deepEqual(issues(sdk.Wallet, { ...wallet, remainingAllowance: undefined, balanceDiamonds: 1.5 }), [
      { path: ['balanceDiamonds'], message: 'expected an integer ≥ 0, got 1.5' },
      { path: ['remainingAllowance'], message: 'expected an integer ≥ 0, got missing' },
    ]);
    assert.deepEqual(issues(sdk.TopUp, { ...topUp, status: 'paid' }), [
      { path: ['status'], message: 'expected one of "requires_payment", "requires_action", "succeeded", "failed", got "paid"' },
    ]);
    assert.deepEqual(issues(sdk.SignInPoll, { status: 'maybe' }), [
      { path: ['status'], message: 'expected one of "pending", "approved", "denied", "expired", got "maybe"' },
    ]);
    assert.deepEqual(issues(sdk.SignInRequest, { ...signInRequest, url: 'not a url' }), [
      { path: ['url'], message: 'expected a URL, got "not a url"' },
    ]);
    assert.deepEqual(issues(sdk.Health, '<html>'), [{ path: [], message: 'expected an object, got "<html>"' }]);
    assert.deepEqual(issues(sdk.GiftTypeList, { ...page(), data: null }), [{ path: ['data'], message: 'expected an array, got null' }]);
  });
});
