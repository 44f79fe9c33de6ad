// The English strings of every element: the table other locales translate. Keys are grouped by
// element, one export each, so that an element bundles only its own strings (and the common
// ones); `{name}` marks a value filled in at run time. English is every locale's fallback.

/** The English strings every element shares. @internal */
export const common = {
  'common.signIn': 'Sign in with Diamonds',
  'common.loading': 'Loading…',
  'common.error': 'Something went wrong: {message}',
  'common.networkError': 'Cannot reach Diamonds. Check your connection and try again.',
  'common.originNotAllowed':
    'Diamonds is not set up for {origin}. If this is your site, add it to its allowed origins on your Diamonds account page.',
  'common.popupBlocked': 'Your browser blocked the Diamonds window. Allow pop-ups for this site and try again.',
  'common.popupClosed': 'The Diamonds window was closed before you finished.',
  'common.declined': 'You declined. Nothing was charged.',
  'common.expired': 'That took too long and expired. Nothing was charged.',
  'common.insufficient': 'Not enough Diamonds. Top up to continue.',
  'common.confirming': 'Confirm in the Diamonds window…',
  'common.topUp': 'Top up',
  'common.diamonds': '{count} Diamonds',
  'common.diamond': '1 Diamond',
  'common.split': 'Shared: {parts}',
  'spend.topping-up': 'Finish the top-up in the Diamonds window…',
  'spend.topUpPack': 'Top up {diamonds} for {price}',
};

/** The English strings of `<diamond-wallet>`. @internal */
export const wallet = {
  'wallet.signOut': 'Sign out',
  'wallet.retry': 'Try again',
  'wallet.title': 'Your Diamonds',
  'wallet.balance': 'Balance',
  'wallet.held': '{amount} waiting for your confirmation',
  'wallet.allowance': '{remaining} of {perDay} left today on this site',
  'wallet.history': 'Recent activity',
  'wallet.noHistory': 'Nothing yet.',
  'wallet.packs': 'Buy Diamonds',
  'wallet.buyPack': 'Buy {diamonds} for {price}',
  'wallet.toppedUp': '{diamonds} added to your wallet.',
  'wallet.open': 'Open your Diamonds wallet: {balance}',
  'wallet.signingIn': 'Continue in the Diamonds window to sign in…',
  'wallet.signedOut': 'You are signed out.',
  'wallet.paying': 'Finish paying in the Diamonds window…',
  'wallet.cardDeclined': 'Your card was declined. Nothing was charged.',
  'wallet.paymentFailed': 'The payment failed. Nothing was charged.',
  'wallet.pending': '(pending)',
  'wallet.voided': '(declined or expired)',
};

/** The English strings of `<diamond-gift-button>`. @internal */
export const giftButton = {
  'gift.send': 'Send {gift}',
  'gift.sendFor': 'Send {gift} for {amount}',
  'gift.pick': 'Send a gift',
  'gift.quantity': 'Quantity',
  'gift.message': 'Message (optional)',
  'gift.spending': 'Sending…',
  'gift.sent': '{gift} sent to {creator}. Thank you!',
  'gift.cancel': 'Cancel',
  'gift.creator': 'the creator',
  'gift.choose': 'Choose a gift',
  'gift.signing-in': 'Continue in the Diamonds window to sign in and send your gift…',
  'gift.confirm': 'You are signed in. Press Send to confirm the gift in the Diamonds window.',
};

/** The English strings of `<diamond-paywall>`. @internal */
export const paywall = {
  'paywall.price': 'Unlock for {amount}',
  'paywall.threshold': 'For supporters who have sent {amount} in gifts',
  'paywall.progress': 'You have sent {given}; {missing} to go.',
  'paywall.unlock': 'Unlock',
  'paywall.spending': 'Unlocking…',
  'paywall.unlocked': 'Unlocked. Enjoy!',
  'paywall.open': 'Open the content',
  'paywall.signIn': 'Sign in to unlock',
  'paywall.signing-in': 'Continue in the Diamonds window to sign in and unlock…',
  'paywall.confirm': 'You are signed in. Press Unlock to confirm the unlock in the Diamonds window.',
  'paywall.progressLabel': 'Progress to the supporters’ threshold',
};

/** The English strings of `<diamond-checkout>`. @internal */
export const checkout = {
  'checkout.title': 'Your order',
  'checkout.total': 'Total',
  'checkout.pay': 'Pay {amount}',
  'checkout.spending': 'Paying…',
  'checkout.paid': 'Paid. Thank you!',
  'checkout.receipt': 'Receipt',
  'checkout.quantity': 'Quantity',
  'checkout.item': 'Item',
  'checkout.unitPrice': 'Price',
  'checkout.amount': 'Amount',
  'checkout.signInFirst': 'Sign in to see your order and pay.',
  'checkout.signing-in': 'Continue in the Diamonds window to sign in…',
  'checkout.signInAndPay': 'Sign in and pay {amount}',
  'checkout.confirm': 'You are signed in. Press Pay to confirm the payment in the Diamonds window.',
  'checkout.receiptId': 'Receipt {id}',
  'checkout.canceled': 'This order was canceled. Nothing was charged.',
  'checkout.refunded': 'This order was refunded.',
  'checkout.outOfStock': 'Sorry, something in this order is out of stock. Nothing was charged.',
  'checkout.notFound': 'This order cannot be found.',
};

/** The English strings of the live elements (`<diamond-live-feed>`, `<diamond-goal>`, `<diamond-top-gifters>`). @internal */
export const live = {
  'live.feedLabel': 'Live gifts',
  'live.waiting': 'No gifts yet.',
  'live.gift': '{fan} sent {gift}',
  'live.combo': '×{count}',
  'live.comboLabel': '{count} in a row',
  'live.hidden': 'Message hidden by the creator’s filter',
  'live.announce': '{fan} sent {gift} ×{count}',
  'live.announceMore': '{fan} sent {gift} ×{count}, and {more} more gifts',
  'live.reconnecting': 'Reconnecting…',
  'live.creatorNotFound': 'This creator cannot be found.',
  'live.busy': 'Too many live connections from here. Trying again shortly…',
  'live.noGoal': 'No goal right now.',
  'live.goalLabel': 'Goal: {title}',
  'live.goalProgress': '{progress} of {target}',
  'live.goalReached': 'Goal reached!',
  'live.topTitle': 'Top gifters',
  'live.top.session': 'Top gifters this live',
  'live.top.today': 'Top gifters today',
  'live.top.all_time': 'Top gifters of all time',
  'live.noGifters': 'No gifters yet.',
};

/** The English strings of `<diamond-discover>` (its own file; locales may leave them out). @internal */
export const discover = {
  'discover.heading': 'Discover',
  'discover.empty': 'Nothing to discover right now.',
  'discover.by': 'by {creator}',
  'discover.sponsored': 'Boosted',
  'discover.content': 'Post',
  'discover.product': 'Product',
};

/** An English table of some strings: an element's own and {@link common}. */
export type EnglishStrings = Partial<Record<StringKey, string>>;

/** Every string key, of every element. */
export type StringKey =
  | keyof typeof common
  | keyof typeof wallet
  | keyof typeof giftButton
  | keyof typeof paywall
  | keyof typeof checkout
  | keyof typeof live
  | keyof typeof discover;

/**
 * A table of strings for one locale: every key, as a locale module translates them (see `de.ts`),
 * but the live elements' (see {@link LiveStrings}), which ship in their own locale module so that
 * the drop-in's core does not carry them.
 */
export type Strings = Record<Exclude<StringKey, keyof typeof live | keyof typeof discover>, string>;

/** The live elements' strings for one locale (see `de-live.ts`). */
export type LiveStrings = Record<keyof typeof live, string>;
