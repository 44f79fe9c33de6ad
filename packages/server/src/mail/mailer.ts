import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

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
