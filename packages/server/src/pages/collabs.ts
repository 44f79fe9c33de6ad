import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { isId, SplitItemKind, type Collaboration } from '@diamonds/protocol';
import {
  answerCollaboration,
  endCollaboration,
  inviteCollaborator,
  listCollaborations,
  ownerSplits,
  presentSplit,
  setSplit,
  clearSplit,
} from '../collabs/collabs.js';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { Session } from '../identity/sessions.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, page, type Html } from './layout.js';
import { currentSession } from './session.js';

/*
 * The creator's collaborations page (issue 16): invitations made and received (invite, accept,
 * decline, leave, remove) and the splits of their items (set as lines of `creator id share%`,
 * or ended). Same-origin forms, CSRF-checked, for a signed-in creator; the API does the same
 * with the secret key (collabs/routes.ts).
 */

/** Where the page lives. */
export const COLLABS_PATH = '/account/collaborations';

const STATUS: Record<Collaboration['status'], string> = {
  invited: 'invited, waiting for an answer',
  accepted: 'collaborating',
  declined: 'declined',
  left: 'left',
  removed: 'removed',
};

function percent(bps: number): string {
  return `${(bps / 100).toLocaleString('en-US', { maximumFractionDigits: 2 })}%`;
}

/** Reads split lines `usr_… 60` (percent, up to two decimals) into shares in basis points. */
function parseShares(value: string): Array<{ creatorId: `usr_${string}`; shareBps: number }> {
  return value
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line, i) => {
      const match = /^(usr_[0-9A-Za-z]+)[\s:,=]+(\d{1,3}(?:\.\d{1,2})?)\s*%?$/.exec(line);
      if (!match) {
        throw new ApiError('invalid_request', `Line ${i + 1} should be a creator id and a percentage, like "usr_… 40".`, {
          param: 'shares',
        });
      }
      const [whole = '0', cents = ''] = (match[2] ?? '0').split('.');
      return { creatorId: (match[1] ?? '') as `usr_${string}`, shareBps: Number(whole) * 100 + Number(cents.padEnd(2, '0')) };
    });
}

async function renderPage(context: AppContext, session: Session, state: { notice?: string; problem?: string } = {}): Promise<Html> {
  const { db } = context;
  const { user, csrfToken: csrf } = session;
  const [{ sent, received }, splits] = await Promise.all([listCollaborations(db, user.id), ownerSplits(db, user.id)]);
  const views = await Promise.all(splits.map((split) => presentSplit(db, split)));
  return page(
    'Collaborations',
    html`<header class="top">
        <h1>Collaborations</h1>
        <span><a href="/account">Account</a> <a href="/dashboard">Earnings</a></span>
      </header>
      ${state.notice ? html`<p class="notice" role="status">${state.notice}</p>` : ''}
      ${state.problem ? alertBox({ message: state.problem }) : ''}
      <section aria-labelledby="received">
        <h2 id="received">Invitations you received</h2>
        ${
          received.length === 0
            ? html`<p class="muted">None yet.</p>`
            : html`<ul>
                ${received.map(
                  (c) =>
                    html`<li data-owner="${c.owner.id}">
                      <strong>${c.owner.displayName}</strong>: ${STATUS[c.status]}
                      ${
                        c.status === 'invited'
                          ? html`<form method="post" action="${COLLABS_PATH}/${c.owner.id}/accept" class="inline">
                                ${csrfField(csrf)}<button type="submit">Accept</button>
                              </form>
                              <form method="post" action="${COLLABS_PATH}/${c.owner.id}/decline" class="inline">
                                ${csrfField(csrf)}<button type="submit" class="secondary">Decline</button>
                              </form>`
                          : c.status === 'accepted'
                            ? html`<form method="post" action="${COLLABS_PATH}/${c.owner.id}/leave" class="inline">
                                ${csrfField(csrf)}<button type="submit" class="secondary">Leave</button>
                              </form>`
                            : ''
                      }
                    </li>`,
                )}
              </ul>`
        }
      </section>
      <section aria-labelledby="sent">
        <h2 id="sent">Your collaborators</h2>
        ${
          sent.length === 0
            ? html`<p class="muted">Nobody yet.</p>`
            : html`<ul>
                ${sent.map(
                  (c) =>
                    html`<li data-collaborator="${c.collaborator.id}">
                      <strong>${c.collaborator.displayName}</strong> <code>${c.collaborator.id}</code>: ${STATUS[c.status]}
                      ${
                        c.status === 'invited' || c.status === 'accepted'
                          ? html`<form method="post" action="${COLLABS_PATH}/${c.collaborator.id}/remove" class="inline">
                              ${csrfField(csrf)}<button type="submit" class="secondary">Remove</button>
                            </form>`
                          : ''
                      }
                    </li>`,
                )}
              </ul>`
        }
        <form method="post" action="${COLLABS_PATH}/invite">
          ${csrfField(csrf)}
          <label for="invite-creator">Invite a creator by email or user id</label>
          <input id="invite-creator" type="text" name="creator" required maxlength="320" autocomplete="off" />
          <button type="submit">Invite</button>
        </form>
      </section>
      <section aria-labelledby="splits">
        <h2 id="splits">Splits</h2>
        <p class="muted">
          A split shares what you earn from a piece of content, a product or a live session (after the platform fee) with collaborators who
          accepted. Fans see it before they pay. A change applies to later payments only.
        </p>
        ${
          views.length === 0
            ? html`<p class="muted">No split yet.</p>`
            : html`<ul>
                ${views.map(
                  (split) =>
                    html`<li data-split="${split.itemId}">
                      ${split.itemKind} <code>${split.itemId}</code> (version ${split.version}):
                      ${split.shares.map((share, i) => html`${i > 0 ? ', ' : ''}${share.displayName} ${percent(share.shareBps)}`)}
                      <form method="post" action="${COLLABS_PATH}/splits/${split.itemKind}/${split.itemId}/clear" class="inline">
                        ${csrfField(csrf)}<button type="submit" class="secondary">End split</button>
                      </form>
                    </li>`,
                )}
              </ul>`
        }
        <form method="post" action="${COLLABS_PATH}/splits">
          ${csrfField(csrf)}
          <label for="split-kind">What to split</label>
          <select id="split-kind" name="itemKind">
            <option value="content">Content (ct_…)</option>
            <option value="product">Product (prod_…)</option>
            <option value="live">Live session (ls_…)</option>
          </select>
          <label for="split-item">Its id</label>
          <input id="split-item" type="text" name="itemId" required maxlength="64" autocomplete="off" />
          <label for="split-shares">Shares: one line per creator, id and percentage; you too (<code>${user.id}</code>)</label>
          <textarea id="split-shares" name="shares" rows="4" required>${user.id} 100</textarea>
          <button type="submit">Set split</button>
        </form>
      </section>`,
  );
}

/** Registers {@link COLLABS_PATH} and its forms. */
export function collabsPages(pages: Hono<PagesEnv>, context: AppContext): void {
  const { db } = context;

  async function creator(c: Context<PagesEnv>): Promise<Session | Response> {
    const session = await currentSession(c, db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(COLLABS_PATH)}`, 303);
    if (!session.user.roles.includes('creator')) throw new ApiError('permission_denied', 'Collaborations are for creators.');
    return session;
  }

  /** A signed-in creator's form, checked (same origin, CSRF), run, then the page with its outcome. */
  function form(path: string, act: (c: Context<PagesEnv>, session: Session, form: Record<string, string>) => Promise<string>): void {
    pages.post(path, async (c) => {
      const session = await creator(c);
      if (session instanceof Response) return session;
      checkSameOrigin(c);
      const read = await readForm(c);
      if (!read.ok) throw read.error;
      checkSessionToken(session, read.form.csrf);
      try {
        const notice = await act(c, session, read.form);
        return c.html(await renderPage(context, session, { notice }));
      } catch (error) {
        if (!(error instanceof ApiError) || error.status >= 500 || error.code === 'permission_denied') throw error;
        return c.html(await renderPage(context, session, { problem: error.message }), error.status as 400);
      }
    });
  }

  pages.get(COLLABS_PATH, async (c) => {
    const session = await creator(c);
    if (session instanceof Response) return session;
    return c.html(await renderPage(context, session));
  });

  form(`${COLLABS_PATH}/invite`, async (_c, session, fields) => {
    const value = text(fields, 'creator').trim();
    const target = isId('usr', value) ? { creatorId: value } : { email: value };
    const made = await db.transaction((tx) => inviteCollaborator(tx, session.user.id, target));
    return `${made.collaborator.displayName}: ${STATUS[made.status]}.`;
  });

  for (const action of ['accept', 'decline', 'leave', 'remove'] as const) {
    form(`${COLLABS_PATH}/:other/${action}`, async (c, session) => {
      const other = c.req.param('other') ?? '';
      if (!isId('usr', other)) throw new ApiError('collaboration_not_found', 'No such collaboration.');
      const done = await db.transaction((tx) =>
        action === 'accept' || action === 'decline'
          ? answerCollaboration(tx, { ownerId: other, collaboratorId: session.user.id, accept: action === 'accept' })
          : action === 'leave'
            ? endCollaboration(tx, { ownerId: other, collaboratorId: session.user.id, by: 'collaborator' })
            : endCollaboration(tx, { ownerId: session.user.id, collaboratorId: other, by: 'owner' }),
      );
      return `${action === 'remove' ? done.collaborator.displayName : done.owner.displayName}: ${STATUS[done.status]}.`;
    });
  }

  form(`${COLLABS_PATH}/splits`, async (_c, session, fields) => {
    const itemKind = SplitItemKind.safeParse(text(fields, 'itemKind'));
    if (!itemKind.success) throw new ApiError('invalid_request', 'Pick content, a product or a live session.');
    const split = await db.transaction((tx) =>
      setSplit(tx, {
        ownerId: session.user.id,
        itemKind: itemKind.data,
        itemId: text(fields, 'itemId').trim(),
        shares: parseShares(text(fields, 'shares')),
      }),
    );
    return `Split of ${split.itemId} set (version ${split.version}); it applies to payments from now on.`;
  });

  form(`${COLLABS_PATH}/splits/:kind/:item/clear`, async (c, session) => {
    const itemKind = SplitItemKind.safeParse(c.req.param('kind'));
    if (!itemKind.success) throw new ApiError('invalid_request', 'Pick content, a product or a live session.');
    const itemId = c.req.param('item') ?? '';
    await db.transaction((tx) => clearSplit(tx, { ownerId: session.user.id, itemKind: itemKind.data, itemId }));
    return `The split of ${itemId} ended: later payments are yours alone.`;
  });
}
