import type { ReactiveElement } from 'lit';
import type { DiamondsClientCore } from '@diamonds/sdk';

/**
 * Whether a spend of `amountDiamonds` (to `recipientId`, for a gift) can go on at once after the
 * sign-in its click started.
 *
 * @remarks
 * The sign-in popup used up the click's user activation, so a confirmation popup the SDK would
 * open now is blocked. The spend goes on at once when the SDK opens none: within what is left
 * of the allowance and to one of the creators it pays (the site's own; an unlock or an order
 * always pays the site's owner), or with too little in the wallet (the platform refuses it, and
 * the element offers a top-up). Otherwise the element shows its confirm step ("You are signed
 * in. Press …") and the fan's next click opens the popup. Reads the wallet and the allowance first.
 *
 * @internal
 */
export async function spendsWithoutPopup(
  client: DiamondsClientCore,
  amountDiamonds: number | undefined,
  recipientId?: string,
): Promise<boolean> {
  const wallet = await client.wallet.refresh().catch(() => undefined);
  const allowance = client.allowance.get();
  if (amountDiamonds === undefined) return false;
  const allowed = !!allowance && amountDiamonds <= allowance.remaining && (!recipientId || allowance.recipients.includes(recipientId));
  return allowed || (wallet?.balanceDiamonds ?? amountDiamonds) < amountDiamonds;
}

/** Focuses the host's `part` (the confirm step's button) once rendered. @internal */
export async function focusPart(host: ReactiveElement, part: string): Promise<void> {
  await host.updateComplete;
  host.renderRoot.querySelector<HTMLElement>(`[part~="${part}"]`)?.focus();
}
