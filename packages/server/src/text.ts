import { ApiError } from './errors.js';

/** Options of {@link cleanText}. */
export interface CleanTextOptions {
  /** The request field, for the error's `param`. */
  param: string;
  /** Fewest code points after trimming. @defaultValue 1 */
  min?: number;
  /** Most code points after trimming. */
  max: number;
  /** Allow line breaks (`\n`, and `\r\n` folded to `\n`). @defaultValue false */
  multiline?: boolean;
}

// C0 and C1 controls and DEL, less the line feed handled separately; plus bidi overrides, which
// make text display other than it reads.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Checks free text a person typed (a name, a message) and returns it trimmed and
 * NFC-normalised.
 *
 * @remarks Refuses a non-string, NUL and other control characters, bidi overrides, lone
 * surrogates, and a length (in code points, as people count characters) outside the bounds.
 * @throws {@link ApiError} `invalid_request` naming `param`.
 */
export function cleanText(value: unknown, options: CleanTextOptions): string {
  const { param, min = 1, max } = options;
  if (typeof value !== 'string') throw new ApiError('invalid_request', `${param} must be a string.`, { param });
  if (LONE_SURROGATE.test(value)) throw new ApiError('invalid_request', `${param} contains malformed Unicode.`, { param });
  let text = value.normalize('NFC').trim();
  if (options.multiline) text = text.replace(/\r\n?/g, '\n');
  else if (text.includes('\n')) throw new ApiError('invalid_request', `${param} must be a single line.`, { param });
  if (CONTROL.test(text)) throw new ApiError('invalid_request', `${param} contains control characters.`, { param });
  const length = [...text].length;
  if (length < min) {
    throw new ApiError('invalid_request', min === 1 ? `${param} must not be empty.` : `${param} needs at least ${min} characters.`, {
      param,
    });
  }
  if (length > max) throw new ApiError('invalid_request', `${param} may have at most ${max} characters.`, { param });
  return text;
}
