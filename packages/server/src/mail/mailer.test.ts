import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { readSettings } from '../config.js';
import { developmentMailer, smtpMailer } from './mailer.js';

/** What the local SMTP server received: one entry per message, as the protocol delivered it. */
interface Received {
  user: string | undefined;
  from: string | undefined;
  to: string[];
  raw: string;
}

describe('the SMTP mailer, against a real SMTP server on a local port', () => {
  let server: SMTPServer;
  let port: number;
  const received: Received[] = [];

  before(async () => {
    server = new SMTPServer({
      // Plain SMTP on loopback with AUTH PLAIN/LOGIN: the protocol as a relay speaks it, minus TLS.
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username === 'mailer' && auth.password === 'p@ss:word') callback(null, { user: auth.username });
        else callback(new Error('Invalid username or password'));
      },
      onRcptTo(address, _session, callback) {
        if (address.address.endsWith('@refused.example')) callback(new Error('No such mailbox'));
        else callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push({
            user: session.user as string | undefined,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends an email with authentication: sender, recipient, subject and the text with its link', async () => {
    const mailer = smtpMailer({
      url: `smtp://mailer:${encodeURIComponent('p@ss:word')}@127.0.0.1:${port}`,
      from: 'Diamonds <no-reply@diamonds.example>',
    });
    try {
      const link = 'https://diamonds.example/signin/reset?token=abc';
      await mailer.send({
        to: 'fan@example.com',
        subject: 'Set a new Diamonds password',
        text: `Open this link:\n\n${link}\n\n.\nA line with a dot.\n`,
        links: [link],
      });
    } finally {
      await mailer.close();
    }
    const mail = received.at(-1);
    assert.ok(mail, 'the server received a message');
    assert.equal(mail.user, 'mailer', 'authenticated with the URL’s (decoded) credentials');
    assert.equal(mail.from, 'no-reply@diamonds.example');
    assert.deepEqual(mail.to, ['fan@example.com']);
    assert.match(mail.raw, /^Subject: Set a new Diamonds password\r$/m);
    assert.match(mail.raw, /^From: Diamonds <no-reply@diamonds\.example>\r$/m);
    assert.match(mail.raw, /^To: fan@example\.com\r$/m);
    assert.match(mail.raw, /https:\/\/diamonds\.example\/signin\/reset\?token=abc/);
    assert.match(mail.raw, /\r\n\.\r\nA line with a dot\./, 'a lone dot survives (dot-stuffing is the library’s)');
  });

  it('rejects when the server refuses: a wrong password, or a recipient it does not take', async () => {
    const wrong = smtpMailer({ url: `smtp://mailer:wrong@127.0.0.1:${port}` });
    try {
      await assert.rejects(
        wrong.send({ to: 'fan@example.com', subject: 'x', text: 'x', links: [] }),
        /Invalid username or password|EAUTH|535/,
      );
    } finally {
      await wrong.close();
    }
    const mailer = smtpMailer({ url: `smtp://mailer:${encodeURIComponent('p@ss:word')}@127.0.0.1:${port}` });
    try {
      await assert.rejects(mailer.send({ to: 'nobody@refused.example', subject: 'x', text: 'x', links: [] }), /No such mailbox|EENVELOPE/);
    } finally {
      await mailer.close();
    }
  });

  it('keeps a subject with a line break to one header', async () => {
    const mailer = smtpMailer({ url: `smtp://mailer:${encodeURIComponent('p@ss:word')}@127.0.0.1:${port}` });
    try {
      await mailer.send({ to: 'fan@example.com', subject: 'Hello\r\nBcc: victim@example.com', text: 'x', links: [] });
    } finally {
      await mailer.close();
    }
    const mail = received.at(-1);
    assert.ok(mail);
    assert.deepEqual(mail.to, ['fan@example.com']);
    assert.doesNotMatch(mail.raw, /^Bcc:/m);
  });

  it('is refused for a URL that is not smtp:// or smtps://, and so is such a DIAMONDS_SMTP_URL', () => {
    assert.throws(() => smtpMailer({ url: 'http://mail.example' }), /smtp:\/\/ or smtps:\/\//);
    assert.throws(() => readSettings({ DIAMONDS_SMTP_URL: 'http://mail.example' }), /DIAMONDS_SMTP_URL/);
    assert.throws(() => readSettings({ DIAMONDS_SMTP_URL: 'not a url' }), /DIAMONDS_SMTP_URL/);
    assert.throws(() => readSettings({ DIAMONDS_MAIL_FROM: 'a\r\nBcc: b@example.com' }), /DIAMONDS_MAIL_FROM/);
    const settings = readSettings({
      DIAMONDS_SMTP_URL: 'smtps://u:p@mail.example:465',
      DIAMONDS_MAIL_FROM: 'Diamonds <no-reply@diamonds.example>',
    });
    assert.equal(settings.smtpUrl, 'smtps://u:p@mail.example:465');
    assert.equal(settings.mailFrom, 'Diamonds <no-reply@diamonds.example>');
    assert.equal(readSettings({}).smtpUrl, undefined);
  });
});

describe('the development mailer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diamonds-dev-mail-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one .eml file per email, headers on one line each', async () => {
    const mailer = developmentMailer({ dir, log: false });
    await mailer.send({ to: 'fan@example.com', subject: 'Hi\r\nBcc: victim@example.com', text: 'Body', links: [] });
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /\.eml$/);
    const eml = readFileSync(join(dir, files[0]!), 'utf8');
    assert.match(eml, /\r\nTo: fan@example\.com\r\n/);
    assert.match(eml, /\r\nSubject: Hi Bcc: victim@example\.com\r\n/);
    assert.doesNotMatch(eml, /^Bcc:/m);
    assert.match(eml, /\r\n\r\nBody$/);
  });
});
