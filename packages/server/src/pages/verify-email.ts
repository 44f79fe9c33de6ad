import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import type { Database } from '../db/types.js';
import { EMAIL_VERIFICATION_TTL_MS, isEmailVerified, startEmailVerification, verifyEmail } from '../identity/email-verification.js';
import { hitRateLimit } from '../identity/rate-limit.js';
import type { Session } from '../identity/sessions.js';
import type { User } from '../identity/users.js';
import type { Mail, Mailer } from '../mail/mailer.js';
import { clientIp, refusal } from './auth.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, type PagesEnv } from './forms.js';
import { csrfField, page, type Html } from './layout.js';
import { currentSession } from './session.js';

/*
 * Verifying an account's address by an emailed link: the account page says when it is not
 * verified and offers to send the link again; the link's page says what happened. Accounts made
 * by sign-up are verified already (their code came back); this is for the others.
 */

/** The page the emailed verification link opens. */
export const VERIFY_EMAIL_PATH = '/verify-email';
/** Where the account page's "Resend" button posts. */
export const RESEND_VERIFICATION_PATH = '/account/email/verify';

/** Verification emails a user may ask for per hour. */
export const VERIFICATION_RESEND_LIMIT = 3;
/** The window of {@link VERIFICATION_RESEND_LIMIT}: 1 hour. */
export const VERIFICATION_RESEND_WINDOW_MS = 60 * 60 * 1000;
/** Verification emails per client IP per hour (several accounts behind one address). */
const VERIFICATION_RESEND_LIMIT_PER_IP = 10;

const hours = Math.round(EMAIL_VERIFICATION_TTL_MS / 3_600_000);

/** The verification email for `user`'s address. */
export function verificationMail(user: Pick<User, 'email'>, token: string, baseUrl: string): Mail {
  const link = `${baseUrl}${VERIFY_EMAIL_PATH}?${new URLSearchParams({ token }).toString()}`;
  return {
    to: user.email,
    subject: 'Verify your Diamonds email address',
    text: `To confirm that this address is yours, open this link:\n\n${link}\n\nIt works for ${hours} hours. Cashing out earnings needs a verified address.\n\nIf you do not have a Diamonds account, ignore this email.\n`,
    links: [link],
  };
}

/**
 * The account page's notice for an address not verified yet, with its "Resend" button; empty
 * once verified.
 */
export async function emailVerificationBanner(db: Database, session: Session): Promise<Html | string> {
  if (await isEmailVerified(db, session.user.id)) return '';
  return html`<div class="notice" role="status">
    <p>Your email address <strong>${session.user.email}</strong> is not verified yet. Cashing out earnings needs a verified address.</p>
    <form method="post" action="${RESEND_VERIFICATION_PATH}">
      ${csrfField(session.csrfToken)}
      <button type="submit" class="secondary">Email me a verification link</button>
    </form>
  </div>`;
}

function resultPage(
  c: Context,
  status: 200 | 400 | 410 | 429,
  title: string,
  message: string,
  alert: boolean,
): Response | Promise<Response> {
  return c.html(
    page(
      title,
      html`<h1>${title}</h1>
        ${alert ? html`<div class="alert" role="alert"><p>${message}</p></div>` : html`<p class="notice" role="status">${message}</p>`}
        <p><a href="/account">Go to your account</a></p>`,
    ),
    status,
  );
}

/** What the verification pages need besides the database. */
export interface VerifyEmailOptions {
  mailer: Mailer;
  /** The configured public origin; without it, links in emails use the request's (loopback) origin. */
  publicUrl: string | undefined;
}

/** Adds the verification link's page and the account page's "Resend" to the hosted pages. */
export function verifyEmailRoutes(pages: Hono<PagesEnv>, db: Database, options: VerifyEmailOptions): void {
  pages.get(VERIFY_EMAIL_PATH, async (c) => {
    const outcome = await verifyEmail(db, c.req.query('token') ?? '');
    switch (outcome.status) {
      case 'verified':
        return resultPage(c, 200, 'Your email is verified', `Thank you: ${outcome.email} is verified.`, false);
      case 'unknown':
        return resultPage(
          c,
          400,
          'This link does not work',
          'Check that you opened the whole link from the newest email; your account page can send a new one.',
          true,
        );
      default:
        // A second click on a link that worked (or one outdated by a newer link that did) is no problem.
        if (outcome.verified) return resultPage(c, 200, 'Your email is verified', `${outcome.email} is verified already.`, false);
        return resultPage(
          c,
          410,
          outcome.status === 'used' ? 'This link was already used' : 'This link has expired',
          `${outcome.status === 'used' ? 'Each link works once.' : `A verification link works for ${hours} hours.`} Sign in and ask for a new one on your account page.`,
          true,
        );
    }
  });

  pages.post(RESEND_VERIFICATION_PATH, async (c) => {
    checkSameOrigin(c);
    const session = await currentSession(c, db);
    if (!session) return c.redirect('/signin?next=/account', 303);
    const read = await readForm(c);
    if (!read.ok) throw read.error;
    checkSessionToken(session, read.form.csrf);
    const { user } = session;
    if (await isEmailVerified(db, user.id))
      return resultPage(c, 200, 'Your email is verified', `${user.email} is verified already.`, false);
    const limited = refusal(
      c,
      [
        await hitRateLimit(db, `verify-email:user:${user.id}`, VERIFICATION_RESEND_LIMIT, VERIFICATION_RESEND_WINDOW_MS),
        await hitRateLimit(db, `verify-email:ip:${clientIp(c)}`, VERIFICATION_RESEND_LIMIT_PER_IP, VERIFICATION_RESEND_WINDOW_MS),
      ],
      'verification email',
    );
    if (limited !== undefined) return resultPage(c, 429, 'Please wait', limited, true);
    const token = await startEmailVerification(db, user);
    await options.mailer.send(verificationMail(user, token, options.publicUrl ?? new URL(c.req.url).origin));
    return resultPage(c, 200, 'Check your email', `We sent a verification link to ${user.email}. It works for ${hours} hours.`, false);
  });
}
