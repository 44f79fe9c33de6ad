import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';
import { pageSchema } from './pagination.js';
import { SplitShare } from './collabs.js';
import { Confirmation } from './spends.js';

/** A piece of exclusive content: `ct_…`. */
export const ContentId = idSchema('ct');

/** A fan's entitlement to a piece of content: `ent_…`. */
export const EntitlementId = idSchema('ent');

/** The longest content title, in characters. */
export const MAX_CONTENT_TITLE_LENGTH = 200;

/** The longest teaser (shown to everyone, before unlocking), in characters. */
export const MAX_CONTENT_TEASER_LENGTH = 1000;

/**
 * The longest Markdown body, in characters. Request bodies are limited to 16 KiB anyway; this
 * keeps the stored text bounded even when that limit is raised.
 */
export const MAX_CONTENT_BODY_LENGTH = 15_000;

/** The longest external URL. */
export const MAX_CONTENT_URL_LENGTH = 2000;

const title = z
  .string()
  .trim()
  .min(1, { error: 'The title may not be empty.' })
  .max(MAX_CONTENT_TITLE_LENGTH, { error: `The title is at most ${MAX_CONTENT_TITLE_LENGTH} characters.` });

const teaser = z
  .string()
  .trim()
  .max(MAX_CONTENT_TEASER_LENGTH, { error: `The teaser is at most ${MAX_CONTENT_TEASER_LENGTH} characters.` });

/**
 * The body of `POST /v1/content` (secret key): what a creator publishes on their site.
 *
 * @remarks
 * Give exactly one of `body` (Markdown, rendered to sanitised HTML on the server: raw HTML is
 * shown as text, and links only go to `http:`, `https:` or `mailto:`) and `externalUrl` (an
 * `https:` address the entitled fan is sent to; `http:` only for localhost). Give exactly one
 * rule: `priceDiamonds` (the fan pays it once) or `thresholdDiamonds` (free for fans who have
 * given the creator at least that many Diamonds in gifts).
 * @example
 * ```json
 * { "title": "Behind the scenes", "teaser": "How the album was made", "body": "# Day one\n…", "priceDiamonds": 50 }
 * ```
 */
export const CreateContent = z
  .strictObject({
    title,
    teaser: teaser.default(''),
    body: z
      .string()
      .min(1, { error: 'The body may not be empty; leave it out to use externalUrl instead.' })
      .max(MAX_CONTENT_BODY_LENGTH, { error: `The body is at most ${MAX_CONTENT_BODY_LENGTH} characters of Markdown.` })
      .optional(),
    externalUrl: z.string().max(MAX_CONTENT_URL_LENGTH).optional(),
    priceDiamonds: DiamondAmount.optional(),
    thresholdDiamonds: DiamondAmount.optional(),
  })
  .superRefine((value, context) => {
    if ((value.body === undefined) === (value.externalUrl === undefined)) {
      context.addIssue({
        code: 'custom',
        path: [value.body === undefined ? 'body' : 'externalUrl'],
        message: 'Give exactly one of body (Markdown) and externalUrl',
      });
    }
    if ((value.priceDiamonds === undefined) === (value.thresholdDiamonds === undefined)) {
      context.addIssue({
        code: 'custom',
        path: [value.priceDiamonds === undefined ? 'priceDiamonds' : 'thresholdDiamonds'],
        message: 'Give exactly one rule: priceDiamonds (a price) or thresholdDiamonds (a support threshold)',
      });
    }
  });

/** What a creator publishes (see {@link CreateContent}). */
export type CreateContent = z.infer<typeof CreateContent>;

/**
 * The body of `PATCH /v1/content/{id}` (secret key): retitle, reword the teaser, or archive.
 *
 * @remarks Archived content can no longer be unlocked; fans who unlocked it keep access. The
 * body and the rule cannot change after publishing (receipts name what was bought).
 */
export const UpdateContent = z.strictObject({
  title: title.optional(),
  teaser: teaser.optional(),
  archived: z.boolean().optional(),
});

/** A change to published content (see {@link UpdateContent}). */
export type UpdateContent = z.infer<typeof UpdateContent>;

/**
 * A piece of exclusive content as anyone with the site's key sees it: the teaser and the rule,
 * never the body (see {@link ContentBody}).
 *
 * @remarks
 * Exactly one of `priceDiamonds` and `thresholdDiamonds` is set. When a signed-in fan asks
 * (publishable key and `Diamonds-Token`), `entitled`, `supportedDiamonds` (what the fan has
 * given this creator in gifts) and `remainingToThreshold` (how many more Diamonds of gifts
 * unlock it; `null` for priced content) are filled in.
 */
export const Content = z.object({
  object: z.literal('content'),
  id: ContentId,
  siteId: idSchema('site'),
  creator: z.object({ id: idSchema('usr'), displayName: z.string() }),
  title: z.string(),
  teaser: z.string(),
  /** Whether the body is Markdown shown on the page (`markdown`) or a link elsewhere (`external`). */
  format: z.enum(['markdown', 'external']),
  priceDiamonds: DiamondAmount.nullable(),
  thresholdDiamonds: DiamondAmount.nullable(),
  createdAt: z.int().nonnegative(),
  updatedAt: z.int().nonnegative(),
  archivedAt: z.int().nonnegative().nullable(),
  entitled: z.boolean().optional(),
  supportedDiamonds: z.int().nonnegative().optional(),
  remainingToThreshold: z.int().nonnegative().nullable().optional(),
  /**
   * When the creator shares this content's earnings with collaborators: who gets what share of
   * the creator's part (after the platform fee), shown to a fan before paying. Absent otherwise.
   */
  split: z.array(SplitShare).optional(),
  /**
   * The same split as one short line for a price tag ("Shared: Ada 60% · Bo 40%"), which the
   * paywall shows after the price. Absent when not split.
   */
  splitLine: z.string().optional(),
});

/** A piece of exclusive content, teaser only (see {@link Content}). */
export type Content = z.infer<typeof Content>;

/** A page of a site's content, newest first (`GET /v1/content`). */
export const ContentList = pageSchema(Content);

/** A page of a site's content (see {@link ContentList}). */
export type ContentList = z.infer<typeof ContentList>;

/**
 * The body of a piece of content, served only to an entitled fan (`GET /v1/content/{id}/body`).
 *
 * @remarks `html` is sanitised on the server (no script, no event handlers, no `javascript:`
 * URLs) and safe to insert as HTML; for external content it is `null` and `externalUrl` is set.
 */
export const ContentBody = z.object({
  object: z.literal('content_body'),
  id: ContentId,
  html: z.string().nullable(),
  externalUrl: z.string().nullable(),
});

/** The body of a piece of content (see {@link ContentBody}). */
export type ContentBody = z.infer<typeof ContentBody>;

/**
 * Whether an entitlement grants access yet: `active`, or `pending_confirmation` while the fan
 * has not approved the payment (declining or expiry removes it, so the fan can try again).
 */
export const EntitlementStatus = z.enum(['active', 'pending_confirmation']);

/** Where an entitlement stands (see {@link EntitlementStatus}). */
export type EntitlementStatus = z.infer<typeof EntitlementStatus>;

/**
 * A fan's right to a piece of content, with its receipt.
 *
 * @remarks `receipt` is a compact JWT (ES256, `kid` in its header) signed by the platform:
 * verify it offline against `GET /.well-known/jwks.json`. It names the fan (`sub`), the site
 * (`aud`), the content (`subjectId`), the Diamonds paid (`amountDiamonds`, 0 for a support
 * threshold) and the transfer (`transferId`). It is `null` while pending.
 */
export const Entitlement = z.object({
  object: z.literal('entitlement'),
  id: EntitlementId,
  contentId: ContentId,
  fanId: idSchema('usr'),
  status: EntitlementStatus,
  amountDiamonds: z.int().nonnegative(),
  transferId: idSchema('txn').nullable(),
  receipt: z.string().nullable(),
  createdAt: z.int().nonnegative(),
});

/** A fan's right to a piece of content (see {@link Entitlement}). */
export type Entitlement = z.infer<typeof Entitlement>;

/**
 * The answer to `POST /v1/content/{id}/unlock`: `succeeded` (201) with the active entitlement
 * and its receipt, or `confirmation_required` (202) when the price is beyond the fan's
 * allowance for the site: open `confirmation.url` in a popup; approving grants the entitlement.
 */
export const Unlock = z.discriminatedUnion('status', [
  z.object({ object: z.literal('unlock'), status: z.literal('succeeded'), entitlement: Entitlement, receipt: z.string() }),
  z.object({
    object: z.literal('unlock'),
    status: z.literal('confirmation_required'),
    entitlement: Entitlement,
    confirmation: Confirmation,
  }),
]);

/** The answer to an unlock (see {@link Unlock}). */
export type Unlock = z.infer<typeof Unlock>;
