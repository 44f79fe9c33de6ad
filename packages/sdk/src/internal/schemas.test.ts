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
