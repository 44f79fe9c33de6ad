import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfirmationDeclinedError,
  ConfirmationExpiredError,
  DiamondsOutcomeError,
  PopupBlockedError,
  createDiamonds,
  isConfirmationDeclinedError,
  isConfirmationExpiredError,
  isDiamondsApiError,
  isDiamondsError,
  isDiamondsOutcomeError,
  isPopupBlockedError,
  isPopupClosedError,
  isSignInDeniedError,
  isSignInExpiredError,
  isSignInRequiredError,
} from './index.js';

describe("the fan's own outcomes", () => {
  it('are DiamondsErrors, told apart by guards that also accept copies from another bundle', () => {
    const blocked = new PopupBlockedError('blocked', { code: 'popup_blocked' });
    assert.ok(blocked instanceof DiamondsOutcomeError);
    assert.equal(isDiamondsError(blocked), true);
    assert.equal(isDiamondsOutcomeError(blocked), true);
    assert.equal(isPopupBlockedError(blocked), true);
    assert.equal(isPopupClosedError(blocked), false);
    assert.equal(isDiamondsApiError(blocked), false);
    assert.equal(String(blocked), 'PopupBlockedError: blocked');
    assert.equal(isConfirmationDeclinedError(new ConfirmationDeclinedError('no', { code: 'confirmation_declined' })), true);
    assert.equal(isConfirmationExpiredError(new ConfirmationExpiredError('late', { code: 'confirmation_expired' })), true);

    const foreign = (name: string, code: string) => ({ name, code, message: 'from another bundle' });
    assert.equal(isPopupClosedError(foreign('PopupClosedError', 'popup_closed')), true);
    assert.equal(isDiamondsOutcomeError(foreign('PopupClosedError', 'popup_closed')), true);
    assert.equal(isSignInDeniedError(foreign('SignInDeniedError', 'signin_denied')), true);
    assert.equal(isSignInExpiredError(foreign('SignInExpiredError', 'signin_expired')), true);
    assert.equal(isSignInRequiredError(foreign('SignInRequiredError', 'signin_required')), true);
    assert.equal(isDiamondsOutcomeError(foreign('SignInRequiredError', 'signin_required')), false, 'needing a sign-in is no outcome');
    assert.equal(isConfirmationExpiredError(foreign('ConfirmationDeclinedError', 'confirmation_declined')), false);
    assert.equal(isPopupBlockedError({ name: 'PopupBlockedError', message: 'no code' }), false);
  });
});

describe('storage option', () => {
  it('refuses anything but its choices or a Storage-like object', () => {
    const options = { publishableKey: 'pk_test_x' };
    assert.throws(() => createDiamonds({ ...options, storage: 'cookie' as 'local' }), { name: 'TypeError', message: /storage/ });
    assert.throws(() => createDiamonds({ ...options, storage: { getItem: () => null } as never }), TypeError);
    const storage = { getItem: () => null, setItem: () => undefined, removeItem: () => undefined };
    assert.equal(createDiamonds({ ...options, storage }).session.get().status, 'signed_out');
  });
});
