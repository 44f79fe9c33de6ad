import {
  CreateContent,
  DiamondAmount,
  MAX_TRANSFER_DIAMONDS,
  isId,
  newId,
  type Content,
  type ContentList,
  type PageQuery,
  type UpdateContent,
} from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { Keyset } from '../db/keyset.js';
import { ApiError, isApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { checkExternalUrl, renderMarkdown } from './markdown.js';

/** A piece of content as stored, with its creator's display name. */
export interface ContentRecord {
  id: string;
  creatorId: string;
  creatorName: string;
  siteId: string;
  title: string;
  teaser: string;
  bodyMarkdown: string | null;
  bodyHtml: string | null;
  externalUrl: string | null;
  priceDiamonds: number | null;
  thresholdDiamonds: number | null;
  createdAt: number;
  updatedAt: number;
  archivedAt: number | null;
}

interface ContentRow {
  id: string;
  creator_id: string;
  creator_name: string;
  site_id: string;
  title: string;
  teaser: string;
  body_markdown: string | null;
  body_html: string | null;
  external_url: string | null;
  price_diamonds: number | string | null;
  threshold_diamonds: number | string | null;
  created_at: number | string;
  updated_at: number | string;
  archived_at: number | string | null;
}

const nullableNumber = (value: number | string | null): number | null => (value === null ? null : Number(value));

function toRecord(row: ContentRow): ContentRecord {
  return {
    id: row.id,
    creatorId: row.creator_id,
    creatorName: row.creator_name,
    siteId: row.site_id,
    title: row.title,
    teaser: row.teaser,
    bodyMarkdown: row.body_markdown,
    bodyHtml: row.body_html,
    externalUrl: row.external_url,
    priceDiamonds: nullableNumber(row.price_diamonds),
    thresholdDiamonds: nullableNumber(row.threshold_diamonds),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    archivedAt: nullableNumber(row.archived_at),
  };
}

const SELECT_CONTENT = `SELECT c.*, u.display_name AS creator_name FROM content c JOIN users u ON u.id = c.creator_id`;

/**
 * Checks a request to publish content with the protocol's {@link CreateContent}, then the
 * external URL's scheme.
 *
 * @remarks A wrong price or threshold is `invalid_amount` (or `amount_too_large`), the codes a
 * client already switches on for amounts; everything else is `invalid_request` with `param`.
 * @throws {@link ApiError} `invalid_amount`, `amount_too_large`, `invalid_request`.
 */
export function validateCreateContent(body: unknown): CreateContent {
  let input: CreateContent;
  try {
    input = validate(CreateContent, body);
  } catch (error) {
    const param = isApiError(error, 'invalid_request') ? error.param : undefined;
    const value = param !== undefined && typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[param] : undefined;
    if ((param === 'priceDiamonds' || param === 'thresholdDiamonds') && value !== undefined && !DiamondAmount.safeParse(value).success) {
      const tooLarge = typeof value === 'number' && value > MAX_TRANSFER_DIAMONDS;
      throw new ApiError(tooLarge ? 'amount_too_large' : 'invalid_amount', (error as ApiError).message, { param });
    }
    throw error;
  }
  if (input.externalUrl !== undefined) input.externalUrl = checkExternalUrl(input.externalUrl);
  return input;
}

/**
 * Publishes content on a site for its creator (the site's owner), rendering the Markdown body
 * to sanitised HTML now, once.
 */
export async function createContent(
  tx: SqlClient,
  owner: { siteId: string; creatorId: string },
  input: CreateContent,
  now = Date.now(),
): Promise<ContentRecord> {
  const id = newId('ct', now);
  const bodyMarkdown = input.body ?? null;
  await tx.run(
    `INSERT INTO content (id, creator_id, site_id, title, teaser, body_markdown, body_html, external_url, price_diamonds,
       threshold_diamonds, created_at, updated_at, archived_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
    [
      id,
      owner.creatorId,
      owner.siteId,
      input.title,
      input.teaser,
      bodyMarkdown,
      bodyMarkdown === null ? null : renderMarkdown(bodyMarkdown),
      input.externalUrl ?? null,
      input.priceDiamonds ?? null,
      input.thresholdDiamonds ?? null,
      now,
      now,
    ],
  );
  const created = await findContent(tx, id);
  if (!created) throw new Error(`content ${id} vanished after insert`);
  return created;
}

/** A piece of content by id, whatever its site. */
export async function findContent(db: SqlClient, id: string): Promise<ContentRecord | undefined> {
  if (!isId('ct', id)) return undefined;
  const [row] = await db.query<ContentRow>(`${SELECT_CONTENT} WHERE c.id = ?`, [id]);
  return row ? toRecord(row) : undefined;
}

/**
 * A piece of content of the caller's site.
 *
 * @throws {@link ApiError} `content_not_found` when there is none, or it belongs to another
 * site (which is not told apart, so ids of other sites cannot be probed).
 */
export async function contentOfSite(db: SqlClient, siteId: string, id: string): Promise<ContentRecord> {
  const found = await findContent(db, id);
  if (!found || found.siteId !== siteId) {
    throw new ApiError('content_not_found', `This site has no content ${JSON.stringify(id.slice(0, 40))}. List it with GET /v1/content.`, {
      param: 'id',
    });
  }
  return found;
}

/** A site's content pages newest first, by id. */
const CONTENT = new Keyset<[string]>('content', [{ column: 'c.id', kind: 'id', prefix: 'ct' }], 'desc');

/**
 * A page of a site's content, newest first.
 *
 * @param includeArchived - The site's backend sees archived content too; pages do not.
 * @throws {@link ApiError} `invalid_cursor`
 */
export async function listContent(db: SqlClient, siteId: string, page: PageQuery, includeArchived: boolean): Promise<ContentRecord[]> {
  const after = CONTENT.after(page.cursor);
  const conditions = ['c.site_id = ?'];
  const params: (string | number)[] = [siteId];
  if (!includeArchived) conditions.push('c.archived_at IS NULL');
  if (after) {
    conditions.push(after.sql);
    params.push(...(after.params as string[]));
  }
  const rows = await db.query<ContentRow>(`${SELECT_CONTENT} WHERE ${conditions.join(' AND ')} ORDER BY ${CONTENT.orderBy} LIMIT ?`, [
    ...params,
    page.limit + 1,
  ]);
  return rows.map(toRecord);
}

/** Every piece of content a creator published, on any of their sites, newest first: their hosted page's list. */
export async function listCreatorContent(db: SqlClient, creatorId: string, limit = 200): Promise<ContentRecord[]> {
  const rows = await db.query<ContentRow>(`${SELECT_CONTENT} WHERE c.creator_id = ? ORDER BY c.id DESC LIMIT ?`, [creatorId, limit]);
  return rows.map(toRecord);
}

/** The teaser view of content (never the body); `fan` adds what the signed-in fan sees. */
export function presentContent(record: ContentRecord, fan?: { entitled: boolean; supportedDiamonds: number }): Content {
  const content: Content = {
    object: 'content',
    id: record.id as Content['id'],
    siteId: record.siteId as Content['siteId'],
    creator: { id: record.creatorId as Content['creator']['id'], displayName: record.creatorName },
    title: record.title,
    teaser: record.teaser,
    format: record.externalUrl === null ? 'markdown' : 'external',
    priceDiamonds: record.priceDiamonds,
    thresholdDiamonds: record.thresholdDiamonds,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    archivedAt: record.archivedAt,
  };
  if (!fan) return content;
  return {
    ...content,
    entitled: fan.entitled,
    supportedDiamonds: fan.supportedDiamonds,
    remainingToThreshold: record.thresholdDiamonds === null ? null : Math.max(0, record.thresholdDiamonds - fan.supportedDiamonds),
  };
}

/** A page of content in wire form: `limit + 1` rows tell whether there is more. */
export function presentContentPage(records: ContentRecord[], limit: number): ContentList {
  return CONTENT.page(
    records,
    limit,
    (record) => presentContent(record),
    (record) => [record.id],
  ) as ContentList;
}

/** Retitles, rewords or archives (and unarchives) content; the body and rule never change. */
export async function updateContent(tx: SqlClient, record: ContentRecord, change: UpdateContent, now = Date.now()): Promise<ContentRecord> {
  const archivedAt = change.archived === undefined ? record.archivedAt : change.archived ? (record.archivedAt ?? now) : null;
  await tx.run('UPDATE content SET title = ?, teaser = ?, archived_at = ?, updated_at = ? WHERE id = ?', [
    change.title ?? record.title,
    change.teaser ?? record.teaser,
    archivedAt,
    now,
    record.id,
  ]);
  return (await findContent(tx, record.id)) ?? record;
}
