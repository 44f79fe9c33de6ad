import MarkdownIt from 'markdown-it';
import { ApiError } from '../errors.js';

/** The URL schemes a link or image in content may use; anything else is dropped. */
export const ALLOWED_URL_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'mailto:']);

/** What links in content carry: no `window.opener`, no referrer, no endorsement for search engines. */
export const CONTENT_LINK_REL = 'noopener noreferrer nofollow';

/**
 * Characters a browser ignores or strips inside a URL (controls, whitespace, soft hyphen,
 * zero-width and bidi marks, BOM): removed before the scheme is read, so `java\tscript:`,
 * `java&#x09;script:` and friends are seen for what they are.
 */
const INVISIBLE = /[\u0000-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/g;

/** Undoes percent-encoding as far as it goes (a malformed escape stops it, which is fine: then it is checked as is). */
function percentDecoded(url: string): string {
  let current = url;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return current;
    }
    if (next === current) return current;
    current = next;
  }
  return current;
}

/**
 * Whether a URL may appear in rendered content: `http:`, `https:`, `mailto:`, or relative.
 *
 * @remarks
 * Strict on purpose: anything that looks like a scheme (a `:` before the first `/`, `?` or
 * `#`), even after removing invisible characters and undoing percent-encoding, must be one of
 * {@link ALLOWED_URL_SCHEMES}. So `javascript:`, `vbscript:`, `data:`, `file:`, `JaVaScRiPt:`,
 * `java%09script:` are all refused, and a harmless relative path with an encoded colon is
 * refused with them rather than risk a parser disagreement.
 */
export function isAllowedContentUrl(url: string): boolean {
  for (const candidate of [url, percentDecoded(url)]) {
    const cleaned = candidate.replace(INVISIBLE, '').toLowerCase();
    // A backslash is a slash to browsers ("/\evil" is "//evil"), and never needed in a link.
    if (cleaned.includes('\\')) return false;
    const scheme = /^([^/?#]*?:)/.exec(cleaned)?.[1];
    if (scheme !== undefined && !ALLOWED_URL_SCHEMES.has(scheme)) return false;
  }
  return true;
}

function createRenderer(): MarkdownIt {
  // html: false escapes every raw HTML tag and comment: it is shown as text, never passed through.
  const md = new MarkdownIt('default', { html: false, linkify: true, typographer: false });
  md.validateLink = isAllowedContentUrl;

  const renderToken = md.renderer.renderToken.bind(md.renderer);
  md.renderer.rules.link_open = (tokens, index, options, env, self) => {
    tokens[index]!.attrSet('rel', CONTENT_LINK_REL);
    return self.renderToken(tokens, index, options);
  };
  md.renderer.rules.image = (tokens, index, options, env, self) => {
    const token = tokens[index]!;
    // The alt text is the rendered children as plain text (markdown-it's own rule does the same).
    token.attrSet('alt', self.renderInlineAsText(token.children ?? [], options, env));
    token.attrSet('loading', 'lazy');
    token.attrSet('referrerpolicy', 'no-referrer');
    return renderToken(tokens, index, options);
  };
  // Table alignment comes out as style="text-align:…", which strict CSPs on creators' pages
  // refuse; a class says the same with no style attribute anywhere in content.
  md.core.ruler.push('alignment_classes', (state) => {
    for (const token of state.tokens) {
      if (token.type !== 'th_open' && token.type !== 'td_open') continue;
      const style = token.attrGet('style');
      if (style === null) continue;
      token.attrs = (token.attrs ?? []).filter(([name]) => name !== 'style');
      const align = /text-align:(left|right|center)/.exec(style)?.[1];
      if (align) token.attrSet('class', `align-${align}`);
    }
  });
  return md;
}

const renderer = createRenderer();

/**
 * Renders a creator's Markdown to HTML that is safe to insert into any page.
 *
 * @remarks
 * markdown-it with `html: false` (raw HTML, comments included, becomes text), `linkify: true`,
 * and {@link isAllowedContentUrl} deciding every link, autolink, reference and image: a
 * refused link is left as text. Links get `rel="noopener noreferrer nofollow"`, images load
 * lazily without a referrer. The output has no `<script>`, no `on…=` attribute, no `style`
 * attribute and no `javascript:` URL. Called once, when the content is written.
 */
export function renderMarkdown(markdown: string): string {
  return renderer.render(markdown);
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Checks the URL of external content: `https:`, or `http:` only for localhost (development),
 * with no user name or password in it.
 *
 * @returns The URL, normalised.
 * @throws {@link ApiError} `invalid_request` with `param: 'externalUrl'`.
 */
export function checkExternalUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError('invalid_request', 'Invalid externalUrl: give a full address such as https://example.com/video.', {
      param: 'externalUrl',
    });
  }
  const local = LOCAL_HOSTS.has(url.hostname) || url.hostname.endsWith('.localhost');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new ApiError('invalid_request', 'Invalid externalUrl: it must start with https:// (http:// only for localhost).', {
      param: 'externalUrl',
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw new ApiError('invalid_request', 'Invalid externalUrl: it may not contain a user name or password.', { param: 'externalUrl' });
  }
  return url.href;
}
