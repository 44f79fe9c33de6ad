import assert from 'node:assert/strict';
import type { ErrorCode } from '@diamonds/protocol';
import { isApiError } from '../errors.js';

/** Asserts that `promise` rejects with an {@link ApiError} of `code` (and `param`, when given). */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, param?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isApiError(error), `expected an ApiError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (param !== undefined) assert.equal(error.param, param);
    return true;
  });
}
