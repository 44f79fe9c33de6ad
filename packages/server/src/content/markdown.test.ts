import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isApiError } from '../errors.js';
import { checkExternalUrl, isAllowedContentUrl, renderMarkdown } from './markdown.js';

/** The only elements markdown-it makes from Markdown (raw HTML is escaped). */
const ALLOWED_TAGS = new Set([
  'p', 'a', 'img', 'em', 'strong', 's', 'code', 'pre', 'ul', 'ol', 'li', 'blockquote', 'hr', 'br',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
]); // prettier-ignore

/** The attributes it may carry. */
const ALLOWED_ATTRIBUTES = new Set(['href', 'rel', 'src', 'alt', 'title', 'loading', 'referrerpolicy', 'class', 'start']);

/** Asserts `output` is inert: only known tags and attributes, no script URL anywhere in an attribute. */
function assertInert(output: string, input: string): void {
  const what = `for ${JSON.stringify(input)}:\n${output}`;
  // With html: false every "<" of the input is escaped, so each "<" left is a tag markdown-it made.
  for (const [tag] of output.matchAll(/<[^>]*>/g)) {
    const name = /^<\/?([a-z0-9]+)/i.exec(tag)?.[1]?.toLowerCase();
    assert.ok(name && ALLOWED_TAGS.has(name), `unexpected tag ${tag} ${what}`);
    for (const [, attribute, value = ''] of tag.matchAll(/\s([^\s=/>]+)(?:="([^"]*)")?/g)) {
      assert.ok(ALLOWED_ATTRIBUTES.has(attribute!.toLowerCase()), `unexpected attribute ${attribute} in ${tag} ${what}`);
      if (attribute === 'href' || attribute === 'src') {
        const decoded = value.replaceAll('&amp;', '&').replaceAll('&quot;', '"');
        assert.ok(isAllowedContentUrl(decoded), `unsafe URL ${value} ${what}`);
        assert.doesNotMatch(decoded, /^\s*(javascript|vbscript|data|file):/i, what);
      }
    }
  }
  assert.doesNotMatch(output, /<script|<iframe|<svg|<style|<object|<embed|<form|<input/i, what);
  // Attribute values are quoted and escaped: what is inside them is text, so look at names only.
  const names = output.replace(/="[^"]*"/g, '=""');
  assert.doesNotMatch(names, /<[^>]*\son[a-z]+\s*=/i, what);
  assert.doesNotMatch(names, /<[^>]*style=/i, what);
  assert.doesNotMatch(output, /<[^>]*(javascript|vbscript|data):/i, what);
}

/** Payloads a hostile (or compromised) creator account might publish. */
const XSS_PAYLOADS = [
  '<script>alert(1)</script>',
  '<SCRIPT SRC=//evil.example/x.js></SCRIPT>',
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<p style="background:url(javascript:alert(1))">x</p>',
  '<a href="javascript:alert(1)">inline html link</a>',
  '<!-- <script>alert(1)</script> -->',
  '<details open ontoggle=alert(1)>',
  '[click](javascript:alert(1))',
  '[click](JaVaScRiPt:alert(1))',
  '[click](  javascript:alert(1)  )',
  '[click](<javascript:alert(1)>)',
  '[click](java\tscript:alert(1))',
  '[click](java&#x09;script:alert(1))',
  '[click](&#106;avascript:alert(1))',
  '[click](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))',
  '[click](javascript&colon;alert(1))',
  '[click](javascript%3Aalert(1))',
  '[click](vbscript:msgbox(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[click](file:///etc/passwd)',
  '[click](\\javascript:alert(1))',
  '[click](javascript:alert(1) "title")',
  '[a][ref]\n\n[ref]: javascript:alert(1)',
  '[a][ref]\n\n[ref]: <javascript:alert(1)> "t"',
  '<javascript:alert(1)>',
  '<vbscript:msgbox(1)>',
  '<data:text/html,<script>alert(1)</script>>',
  '![img](javascript:alert(1))',
  '![img](data:image/svg+xml,<svg onload=alert(1)>)',
  '![x" onerror="alert(1)](https://example.com/x.png)',
  '[x](https://example.com/"onmouseover="alert(1))',
  '[[nested](javascript:alert(1))](https://example.com)',
  '[a](<https://example.com/> "x\\" onclick=\\"alert(1)")',
  '`<script>alert(1)</script>`',
  '```html\n<script>alert(1)</script>\n```',
  '| a | b |\n|:-|-:|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |',
  'javascript:alert(1) and www.example.com and https://example.com',
  '[click](&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1))',
  '<a href="&#106;avascript:alert(1)">x</a>',
];

describe('content Markdown rendering', () => {
  it(`renders ${XSS_PAYLOADS.length} XSS payloads inert`, () => {
    assert.ok(XSS_PAYLOADS.length >= 15);
    for (const payload of XSS_PAYLOADS) assertInert(renderMarkdown(payload), payload);
  });

  it('shows raw HTML as text, not as markup', () => {
    const output = renderMarkdown('<script>alert(1)</script>');
    assert.equal(output, '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n');
  });

  it('drops a javascript: link but keeps its text', () => {
    const output = renderMarkdown('[click me](javascript:alert(1))');
    assert.doesNotMatch(output, /<a/);
    assert.match(output, /click me/);
  });

  it('keeps ordinary Markdown: headings, emphasis, lists, code, images, tables', () => {
    const output = renderMarkdown(
      '# Day one\n\n*Hello* **fans**\n\n- one\n- two\n\n`code`\n\n![cover](https://example.com/a.png)\n\n| a | b |\n|:-|-:|\n| 1 | 2 |',
    );
    assert.match(output, /<h1>Day one<\/h1>/);
    assert.match(output, /<em>Hello<\/em> <strong>fans<\/strong>/);
    assert.match(output, /<li>one<\/li>/);
    assert.match(output, /<code>code<\/code>/);
    assert.match(output, /<img src="https:\/\/example.com\/a.png" alt="cover" loading="lazy" referrerpolicy="no-referrer">/);
    assert.match(output, /<th class="align-left">a<\/th>/);
    assert.doesNotMatch(output, /style=/);
  });

  it('gives links rel="noopener noreferrer nofollow", linkified ones included', () => {
    for (const input of [
      '[site](https://example.com)',
      'see https://example.com now',
      '<https://example.com>',
      '[m](mailto:ada@example.com)',
    ]) {
      const output = renderMarkdown(input);
      assert.match(output, /<a href="[^"]+" rel="noopener noreferrer nofollow">/, input);
    }
    assert.match(renderMarkdown('[rel](/posts/1#top)'), /href="\/posts\/1#top"/);
  });

  it('allows only http, https, mailto and relative URLs', () => {
    for (const url of ['https://example.com', 'http://example.com/a?b=c#d', 'mailto:ada@example.com', '/a', 'b/c', '#top', '?q=1']) {
      assert.ok(isAllowedContentUrl(url), url);
    }
    for (const url of [
      'javascript:alert(1)',
      ' JAVASCRIPT:x',
      'java\nscript:x',
      'data:text/html,x',
      'file:///x',
      'vbscript:x',
      'ftp://x',
      'a%3Ab',
    ]) {
      assert.ok(!isAllowedContentUrl(url), url);
    }
  });

  it('accepts https external URLs (http only for localhost) and refuses the rest', () => {
    assert.equal(checkExternalUrl('https://example.com/video'), 'https://example.com/video');
    assert.equal(checkExternalUrl('http://localhost:3000/x'), 'http://localhost:3000/x');
    for (const bad of [
      'http://example.com',
      'javascript:alert(1)',
      'data:text/html,x',
      'ftp://example.com',
      'not a url',
      'https://user:pw@example.com',
    ]) {
      assert.throws(
        () => checkExternalUrl(bad),
        (error) => isApiError(error, 'invalid_request') && error.param === 'externalUrl',
        bad,
      );
    }
  });
});
