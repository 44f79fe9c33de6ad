import { errorStatus, errorType, type ErrorCode, type ErrorType } from '@diamonds/protocol';

/** Options of {@link ApiError}. */
export interface ApiErrorOptions {
  /** The request field that was wrong, as a dotted path. */
  param?: string;
  /** What caused it, for logs; never sent to clients. */
  cause?: unknown;
}

/**
 * An error with a stable code from the protocol, thrown anywhere in the server (the ledger
 * included) and rendered by the one error handler as the protocol's error body.
 *
 * @example
 * ```ts
 * throw new ApiError('insufficient_funds', 'The wallet holds 40 Diamonds; this needs 100.');
 * ```
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ErrorCode;
  readonly param: string | undefined;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.param = options.param;
  }

  /** The HTTP status that goes with the code. */
  get status(): number {
    return errorStatus(this.code);
  }

  /** The error type that goes with the code. */
  get type(): ErrorType {
    return errorType(this.code);
  }
}

/** Whether `error` is an {@link ApiError} with the given code (or any code). */
export function isApiError(error: unknown, code?: ErrorCode): error is ApiError {
  return error instanceof ApiError && (code === undefined || error.code === code);
}
