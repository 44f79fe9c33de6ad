import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEVELOPMENT_ORIGIN_PATTERNS,
  MAX_ORIGIN_LENGTH,
  allowedOriginCandidates,
  canonicalRequestOrigin,
  originAllowed,
  parseOrigin,
} from './origins.js';

function accepted(input: string): string {
  const result = parseOrigin(input);
  assert.ok(result.ok, `${JSON.stringify(input)} was refused: ${result.ok ? '' : result.reason}`);
  return result.origin;
}

function refused(input: string): string {
  const result = parseOrigin(input);
  assert.ok(!result.ok, `${JSON.stringify(input)} was accepted as ${result.ok ? result.origin : ''}`);
  return result.reason;
}

describe('parseOrigin', () => {
  it('canonicalises what a creator types to what browsers send', () => {
    const cases: [string, string][] = [
      ['https://example.com', 'https://example.com'],
      ['https://Shop.EXAMPLE.com', 'https://shop.example.com'],
      ['HTTPS://example.com', 'https://example.com'],
      ['https://example.com/', 'https://example.com'],
      ['  https://example.com\n', 'https://example.com'],
      ['https://example.com:443', 'https://example.com'],
      ['https://example.com:8443', 'https://example.com:8443'],
      ['https://bücher.de', 'https://xn--bcher-kva.de'],
      ['https://xn--bcher-kva.de', 'https://xn--bcher-kva.de'],
      ['https://[2001:db8:0:0::1]', 'https://[2001:db8::1]'],
      ['https://localhost', 'https://localhost'],
      ['http://localhost:3000', 'http://localhost:3000'],
      ['http://localhost:80', 'http://localhost'],
      ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
      ['http://[::1]:5173', 'http://[::1]:5173'],
      ['http://[0:0:0:0:0:0:0:1]:5173', 'http://[::1]:5173'],
      ['http://shop.localhost:3000', 'http://shop.localhost:3000'],
    ];
    for (const [input, origin] of cases) assert.equal(accepted(input), origin, input);
  });

  it('accepts exactly the development wildcards, in any case', () => {
    for (const pattern of DEVELOPMENT_ORIGIN_PATTERNS) {
      assert.equal(accepted(pattern), pattern);
      assert.equal(accepted(pattern.toUpperCase()), pattern);
      assert.equal(accepted(`${pattern}/`), pattern);
    }
  });

  it('refuses other wildcards and says what to do instead', () => {
    for (const input of [
      '*',
      'https://*.example.com',
      'https://*',
      'https://example.*',
      'https://localhost:*',
      'http://localhost:3*',
      'http://*:3000',
      'http://*.localhost:*',
    ]) {
      assert.match(refused(input), /Wildcards are not allowed.*http:\/\/localhost:\*/, input);
    }
  });

  it('refuses plain http except on loopback hosts', () => {
    for (const input of ['http://example.com', 'http://192.168.1.5:3000', 'http://localhost.example.com', 'http://127.0.0.2']) {
      assert.match(refused(input), /must use https/, input);
    }
    assert.match(refused('http://example.com:8080'), /"https:\/\/example.com:8080"/);
  });

  it('refuses other schemes', () => {
    for (const input of ['ftp://example.com', 'chrome-extension://abcdef', 'ws://example.com', 'file://host']) {
      assert.match(refused(input), /Only https origins/, input);
    }
    assert.match(refused('javascript:alert(1)'), /starts with "https:\/\/"/);
    assert.match(refused('file:///etc/passwd'), /Only https origins/);
  });

  it('refuses a missing scheme, suggesting the origin', () => {
    assert.match(refused('example.com'), /did you mean "https:\/\/example.com"/);
    assert.match(refused('example.com/shop'), /did you mean "https:\/\/example.com"/);
    assert.match(refused('https:/example.com'), /did you mean "https:\/\/example.com"/);
    assert.match(refused('https:example.com'), /did you mean "https:\/\/example.com"/);
  });

  it('refuses a path, query, fragment or user info', () => {
    assert.match(refused('https://example.com/shop'), /no path.*"https:\/\/example.com"/);
    assert.match(refused('https://example.com//'), /no path/);
    assert.match(refused('https://example.com?a=1'), /no path, query/);
    assert.match(refused('https://example.com/?a=1'), /no path, query/);
    assert.match(refused('https://example.com#top'), /fragment/);
    assert.match(refused('https://user@example.com'), /no user name or password/);
    assert.match(refused('https://user:secret@example.com'), /no user name or password/);
    assert.match(refused('https://example.com@evil.test'), /no user name or password/);
  });

  it('refuses whitespace, control and invisible characters inside', () => {
    for (const input of [
      'https://exa mple.com',
      'https://exa\tmple.com',
      'https://example.com\n.evil.test',
      'https://ex\0ample.com',
      'https://exa\u00ADmple.com', // soft hyphen: URL would silently drop it
      'https://exa\u200Bmple.com', // zero-width space
      'https://example.com\u202E',
      'https://example\u00A0.com',
    ]) {
      assert.match(refused(input), /spaces, line breaks, or control or invisible/, JSON.stringify(input));
    }
  });

  it('refuses hosts that only look like one', () => {
    assert.match(refused('https://example.com.'), /trailing dot/);
    assert.match(refused('https://a..example.com'), /empty part/);
    assert.match(refused(`https://${'a'.repeat(64)}.com`), /longer than 63/);
    assert.match(refused('https://exa%6Dple.com'), /percent-encoding/);
    assert.match(refused('https://0x7f.0.0.1'), /dotted decimal form: "127.0.0.1"/);
    assert.match(refused('https://3232235777'), /dotted decimal form: "192.168.1.1"/);
    assert.match(refused('https:\\\\example.com'), /backslash/);
    assert.match(refused('https://'), /no host/);
    assert.match(refused('https://:443'), /no host|not a valid host/);
    assert.match(refused('https://exa<mple.com'), /not a valid host/);
    assert.match(refused('https://example.com:0'), /Port 0/);
    assert.match(refused('https://example.com:99999'), /not a valid host/);
    assert.match(refused('https://example.com:12a'), /not a valid host/);
  });

  it('refuses empty and over-long input', () => {
    assert.match(refused(''), /Enter an origin/);
    assert.match(refused('   '), /Enter an origin/);
    const long = `https://${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.example.com`;
    assert.ok(long.length > MAX_ORIGIN_LENGTH);
    assert.match(refused(long), /at most 200 characters/);
    assert.match(refused(123 as unknown as string), /is a string/);
  });

  it('is total and idempotent, and what it accepts matches itself (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.domain().map((d) => `https://${d}`),
        ),
        (input) => {
          const result = parseOrigin(input);
          if (!result.ok) {
            assert.equal(typeof result.reason, 'string');
            return;
          }
          assert.ok(result.origin.length <= MAX_ORIGIN_LENGTH);
          assert.deepEqual(parseOrigin(result.origin), result);
          if (!(DEVELOPMENT_ORIGIN_PATTERNS as readonly string[]).includes(result.origin)) {
            assert.equal(canonicalRequestOrigin(result.origin), result.origin);
            assert.ok(originAllowed(result.origin, [result.origin]));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts every https domain as its lowercase origin (property)', () => {
    fc.assert(
      fc.property(fc.domain(), (domain) => {
        const result = parseOrigin(`https://${domain}`);
        if (domain.length + 8 > MAX_ORIGIN_LENGTH) return;
        assert.deepEqual(result, { ok: true, origin: `https://${domain.toLowerCase()}` });
      }),
    );
  });
});

describe('originAllowed', () => {
  const allowed = [accepted('https://example.com'), accepted('http://localhost:*')];

  it('matches an allowed origin exactly', () => {
    assert.equal(originAllowed('https://example.com', allowed), true);
  });

  it('matches every port of a development pattern, the default port too', () => {
    assert.equal(originAllowed('http://localhost:3000', allowed), true);
    assert.equal(originAllowed('http://localhost:65535', allowed), true);
    assert.equal(originAllowed('http://localhost', allowed), true);
    assert.equal(originAllowed('http://127.0.0.1:3000', ['http://127.0.0.1:*']), true);
    assert.equal(originAllowed('http://127.0.0.1', ['http://127.0.0.1:*']), true);
    assert.equal(originAllowed('http://[::1]:8080', ['http://[::1]:*']), true);
  });

  it('never matches a missing, null, malformed or look-alike origin', () => {
    const lookAlikes = [
      undefined,
      null,
      '',
      'null',
      'NULL',
      'https://example.com.evil.test',
      'https://evil-example.com',
      'https://evilexample.com',
      'https://example.com.',
      'https://sub.example.com',
      'https://example.co',
      'https://xample.com',
      'https://example.com:8443',
      'https://example.com:443',
      'http://example.com',
      'HTTPS://example.com',
      'https://EXAMPLE.com',
      'https://Example.com',
      'https://example.com/',
      'https://example.com/path',
      'https://example.com?',
      'https://example.com#',
      ' https://example.com',
      'https://example.com ',
      'https://example.com\t',
      'https://exa\tmple.com',
      'https://exa\nmple.com',
      'https://user@example.com',
      'https://example.com@evil.test',
      'https://example.com%2eevil.test',
      'https:\\\\example.com',
      'https:example.com',
      '//example.com',
      'example.com',
      '*',
      'https://*.example.com',
      'wss://example.com',
      // Development patterns are not prefixes or suffixes.
      'https://localhost:3000',
      'http://localhost.:3000',
      'http://localhost.evil.test:3000',
      'http://sub.localhost:3000',
      'http://127.0.0.1:3000',
      'http://LOCALHOST:3000',
      'http://localhost:3000/',
      'http://localhost:*',
    ];
    for (const origin of lookAlikes) assert.equal(originAllowed(origin, allowed), false, JSON.stringify(origin));
  });

  it('compares punycode, as browsers send it', () => {
    const list = [accepted('https://bücher.de')];
    assert.equal(originAllowed('https://xn--bcher-kva.de', list), true);
    assert.equal(originAllowed('https://bücher.de', list), false);
  });

  it('never lets a stray "*" or pattern in the list match anything else', () => {
    assert.equal(originAllowed('https://example.com', ['*']), false);
    assert.equal(originAllowed('https://localhost:3000', ['http://localhost:*']), false);
    assert.equal(originAllowed('http://localhost:3000', ['https://localhost:*']), false);
    assert.equal(originAllowed('http://localhost:3000', []), false);
  });

  it('matches an arbitrary string only when it is exactly an allowed origin (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.constantFrom(...allowed).map((a) => `${a}x`),
        ),
        (origin) => {
          const result = originAllowed(origin, ['https://example.com']);
          assert.equal(result, origin === 'https://example.com');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('allowedOriginCandidates', () => {
  it('lists the origin and, for loopback http, its pattern', () => {
    assert.deepEqual(allowedOriginCandidates('https://example.com'), ['https://example.com']);
    assert.deepEqual(allowedOriginCandidates('http://localhost:5173'), ['http://localhost:5173', 'http://localhost:*']);
    assert.deepEqual(allowedOriginCandidates('http://[::1]'), ['http://[::1]', 'http://[::1]:*']);
    assert.deepEqual(allowedOriginCandidates('https://localhost:5173'), ['https://localhost:5173']);
    assert.deepEqual(allowedOriginCandidates('null'), []);
    assert.deepEqual(allowedOriginCandidates('https://example.com/'), []);
    assert.deepEqual(allowedOriginCandidates(undefined), []);
  });
});
