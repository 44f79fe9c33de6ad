// The SDK's zod/mini response schemas mirror the protocol's full zod ones (kept apart for the
// bundle size): both must accept and refuse the same bodies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as protocol from '@diamonds/protocol';
import * as mini from './schemas.js';

const USR = 'usr_01JD3S9ZK4W8Q2V7C5XH6RTB0M';
const SITE = 'site_01JD3S9ZK4W8Q2V7C5XH6RTB0M';
const SIR = 'sir_01JD3S9ZK4W8Q2V7C5XH6RTB0M';
const tokens = { accessToken: 'dat_x', expiresIn: 900, refreshToken: 'drt_y' };
const me = {
  object: 'me',
  fan: { id: USR, displayName: 'Grace' },
  site: { id: SITE, name: 'Ada' },
  allowancePerDay: 50,
  remainingAllowance: 20,
};

const cases: [
  name: string,
  ours: mini.ResponseSchema<unknown>,
  theirs: { safeParse(value: unknown): { success: boolean } },
  bodies: unknown[],
][] = [
  [
    'Health',
    mini.Health,
    protocol.Health,
    [
      { status: 'ok', database: 'sqlite', schemaVersion: 3, version: '0.1.0' },
      { status: 'fine', database: 'sqlite', schemaVersion: 3, version: '0.1.0' },
      { status: 'ok', database: 'mysql', schemaVersion: 3, version: '0.1.0' },
      { status: 'ok', database: 'sqlite', schemaVersion: -1, version: '0.1.0' },
      { status: 'ok', database: 'sqlite', schemaVersion: 1.5, version: '0.1.0' },
    ],
  ],
  [
    'ErrorBody',
    mini.ErrorBody,
    protocol.ErrorBody,
    [
      { error: { type: 'ledger_error', code: 'insufficient_funds', message: 'no', requestId: 'req_1' } },
      { error: { type: 'ledger_error', code: 'insufficient_funds', message: 'no', requestId: 'req_1', param: 'amountDiamonds' } },
      { error: { type: 'ledger_error', code: '', message: 'no', requestId: 'req_1' } },
      { error: { type: 'ledger_error', code: 'x', message: 'no' } },
      { message: 'not ours' },
    ],
  ],
  [
    'TokenPair',
    mini.TokenPair,
    protocol.TokenPair,
    [tokens, { ...tokens, accessToken: 'drt_x' }, { ...tokens, expiresIn: 0 }, { ...tokens, refreshToken: 'x' }],
  ],
  [
    'SignInRequest',
    mini.SignInRequest,
    protocol.SignInRequest,
    [
      { object: 'signin_request', id: SIR, status: 'pending', url: 'http://localhost:8787/signin/authorize?request=x', expiresAt: 1 },
      { object: 'signin_request', id: SIR, status: 'approved', url: 'http://localhost:8787/', expiresAt: 1 },
      { object: 'signin_request', id: SIR, status: 'pending', url: 'not a url', expiresAt: 1 },
      { object: 'signin_request', id: USR, status: 'pending', url: 'http://localhost:8787/', expiresAt: 1 },
    ],
  ],
  [
    'SignInPoll',
    mini.SignInPoll,
    protocol.SignInPoll,
    [
      { status: 'pending' },
      { status: 'denied' },
      { status: 'expired' },
      { status: 'approved', fan: { id: USR, displayName: 'Grace' }, tokens },
      { status: 'approved' },
      { status: 'maybe' },
    ],
  ],
  [
    'Me',
    mini.Me,
    protocol.Me,
    [me, { ...me, remainingAllowance: -1 }, { ...me, fan: { id: SITE, displayName: 'x' } }, { ...me, object: 'fan' }],
  ],
];

describe('SDK response schemas', () => {
  for (const [name, ours, theirs, bodies] of cases) {
    it(`${name} agrees with the protocol's schema`, () => {
      for (const body of bodies) {
        assert.equal(ours.safeParse(body).success, theirs.safeParse(body).success, `${name}: ${JSON.stringify(body)}`);
      }
    });
  }
});

// The money schemas are loose on purpose (they check what the SDK acts on and pass the rest
// through): every body the protocol accepts must pass whole, and the fields the SDK relies on
// must be refused when wrong.
const CNF = 'cnf_01JD3S9ZK4W8Q2V7C5XH6RTB0M';
const confirmation = {
  object: 'confirmation',
  id: CNF,
  kind: 'gift',
  status: 'pending',
  amountDiamonds: 50,
  description: '1 × Star for Ada',
  subjectId: 'gift_01JD3S9ZK4W8Q2V7C5XH6RTB0M',
  url: 'http://localhost:8787/confirm/' + CNF,
  transferId: null,
  createdAt: 1,
  expiresAt: 2,
  decidedAt: null,
};
const gift = {
  object: 'gift',
  id: 'gift_01JD3S9ZK4W8Q2V7C5XH6RTB0M',
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
const wallet = { object: 'wallet', balanceDiamonds: 5, heldDiamonds: 0, earningsDiamonds: 0, remainingAllowance: 3, allowancePerDay: 10 };
const topUp = {
  object: 'topup',
  id: 'tu_01JD3S9ZK4W8Q2V7C5XH6RTB0M',
  status: 'failed',
  provider: 'test',
  diamonds: 500,
  price: { amountMinor: 650, currency: 'USD' },
  quoteId: 'qt_01JD3S9ZK4W8Q2V7C5XH6RTB0M',
  paymentUrl: null,
  failureCode: 'card_declined',
  transferId: null,
  createdAt: 1,
};

const moneyCases: [
  name: string,
  ours: mini.ResponseSchema<unknown>,
  theirs: { parse(value: unknown): unknown },
  valid: unknown,
  wrong: unknown[],
][] = [
  [
    'Confirmation',
    mini.Confirmation,
    protocol.Confirmation,
    confirmation,
    [
      { ...confirmation, status: 'maybe' },
      { ...confirmation, id: USR },
    ],
  ],
  [
    'Gift',
    mini.Gift,
    protocol.Gift,
    gift,
    [
      { ...gift, object: 'gift_type' },
      { ...gift, confirmation: { ...confirmation, amountDiamonds: -1 } },
    ],
  ],
  [
    'Wallet',
    mini.Wallet,
    protocol.Wallet,
    wallet,
    [
      { ...wallet, balanceDiamonds: 1.5 },
      { ...wallet, remainingAllowance: undefined },
    ],
  ],
  [
    'TopUp',
    mini.TopUp,
    protocol.TopUp,
    topUp,
    [
      { ...topUp, status: 'paid' },
      { ...topUp, failureCode: 3 },
    ],
  ],
];

describe('SDK money response schemas', () => {
  for (const [name, ours, theirs, valid, wrong] of moneyCases) {
    it(`${name} keeps every field of a protocol body and refuses what the SDK relies on when wrong`, () => {
      theirs.parse(valid);
      const parsed = ours.safeParse(valid);
      assert.ok(parsed.success);
      assert.deepEqual(parsed.data, valid);
      for (const body of wrong) assert.equal(ours.safeParse(body).success, false, JSON.stringify(body));
    });
  }
});
