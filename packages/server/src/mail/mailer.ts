import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTransport } from 'nodemailer';

/** One email the platform sends: plain text, with the links it carries listed apart. */
export interface Mail {
  to: string;
  subject: string;
  /** The whole body, plain text. */
  text: string;
  /** The links in the body, printed on the console in development so nobody needs a mail server. */
  links: readonly string[];
}

/** Where the platform's emails go. */
export interface Mailer {
  send(mail: Mail): Promise<void>;
}

/** Options of {@link developmentMailer}. */
export interface DevelopmentMailerOptions {
  /** The folder each email is written to, one `.eml` file per email (created when missing). */
  dir: string;
  /** Print each email's recipient, subject and links on the console. @defaultValue true */
  log?: boolean;
}

/**
 * The development mailer: writes every email to a file instead of sending it, and prints its
 * links, so sign-up (and later password resets and payout notices) work on a laptop with no
 * mail server.
 *
 * @remarks Files are named `<time>-<id>.eml` (RFC 5322 headers, then the text), so they sort
 * by when they were sent and open in any mail client. Nothing leaves the machine.
 * @example
 * ```ts
 * const mailer = developmentMailer({ dir: '.diamonds/mail' });
 * await mailer.send({ to: 'fan@example.com', subject: 'Hello', text: 'Hi', links: [] });
 * ```
 */
export function developmentMailer(options: DevelopmentMailerOptions): Mailer {
  const log = options.log ?? true;
  return {
    async send(mail) {
      await mkdir(options.dir, { recursive: true });
      const now = new Date();
      const id = randomBytes(8).toString('hex');
      // Header values are ours (addresses were validated, subjects are constants); CR/LF are
      // dropped anyway so that no value can add a header.
      const header = (value: string) => value.replace(/[\r\n]+/g, ' ');
      const file = join(options.dir, `${now.toISOString().replace(/[:.]/g, '-')}-${id}.eml`);
      const eml = [
        `Message-ID: <${id}@diamonds.invalid>`,
        `Date: ${now.toUTCString()}`,
        'From: Diamonds <no-reply@diamonds.invalid>',
        `To: ${header(mail.to)}`,
        `Subject: ${header(mail.subject)}`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        mail.text,
      ].join('\r\n');
      await writeFile(file, eml, { flag: 'wx' });
      if (log) {
        console.log(`[mail] to ${header(mail.to)}: ${header(mail.subject)} (${file})`);
        for (const link of mail.links) console.log(`[mail]   ${link}`);
      }
    },
  };
}

/** Options of {@link smtpMailer}. */
export interface SmtpMailerOptions {
  /**
   * The SMTP server, as a URL: `smtp://user:pass@host:587` (plain, upgraded with STARTTLS when
   * the server offers it) or `smtps://user:pass@host:465` (TLS from the first byte). User and
   * password are URL-encoded.
   */
  url: string;
  /** The sender, as `Name <address>`. @defaultValue `Diamonds <no-reply@diamonds.invalid>` */
  from?: string;
  /**
   * Give up on a connection, greeting or command after this long, so that a stalled mail server
   * cannot hold a sign-up or a password reset open for minutes (nodemailer's defaults).
   * @defaultValue 10000
   */
  timeoutMs?: number;
}

/**
 * The production mailer: sends each email through an SMTP server with nodemailer (a maintained
 * library, so that STARTTLS, authentication, dot-stuffing and encodings are not ours to get
 * right).
 *
 * @remarks One pooled connection is kept open and reused, so that a burst of emails (sign-ups,
 * resets) does not open one TCP and TLS connection each. A refused or failed send rejects: the
 * caller decides whether its page fails or carries on. Chosen by `DIAMONDS_SMTP_URL`.
 * @example
 * ```ts
 * const mailer = smtpMailer({ url: 'smtp://user:pass@mail.example:587', from: 'Diamonds <no-reply@diamonds.example>' });
 * await mailer.send({ to: 'fan@example.com', subject: 'Hello', text: 'Hi', links: [] });
 * await mailer.close();
 * ```
 */
export function smtpMailer(options: SmtpMailerOptions): Mailer & { close(): Promise<void> } {
  const url = new URL(options.url);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`DIAMONDS_SMTP_URL must be an smtp:// or smtps:// URL; got "${url.protocol}//…".`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const transport = createTransport({
    pool: true,
    maxConnections: 2,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const from = options.from ?? 'Diamonds <no-reply@diamonds.invalid>';
  return {
    async send(mail) {
      // nodemailer builds the headers and refuses CR/LF in addresses and subjects itself.
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    async close() {
      transport.close();
    },
  };
}
