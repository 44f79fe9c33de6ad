/**
 * The English strings of every element: the table other locales translate. Keys are grouped by
 * element; `{name}` marks a value filled in at run time.
 */
export const en = {
  // Shared by every element.
  'common.signIn': 'Sign in with Diamonds',
  'common.signOut': 'Sign out',
  'common.loading': 'Loading…',
  'common.retry': 'Try again',
  'common.close': 'Close',
  'common.error': 'Something went wrong: {message}',
  'common.networkError': 'Cannot reach Diamonds. Check your connection and try again.',
  'common.popupBlocked': 'Your browser blocked the Diamonds window. Allow pop-ups for this site and try again.',
  'common.popupClosed': 'The Diamonds window was closed before you finished.',
  'common.declined': 'You declined. Nothing was charged.',
  'common.expired': 'That took too long and expired. Nothing was charged.',
  'common.insufficient': 'Not enough Diamonds. Top up to continue.',
  'common.confirming': 'Confirm in the Diamonds window…',
  'common.topUp': 'Top up',
  'common.diamonds': '{count} Diamonds',
  'common.diamond': '1 Diamond',
  // <diamond-wallet>
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
  'wallet.signingIn': 'Sign in in the Diamonds window…',
  'wallet.signedOut': 'You are signed out.',
  'wallet.paying': 'Finish paying in the Diamonds window…',
  'wallet.cardDeclined': 'Your card was declined. Nothing was charged.',
  'wallet.paymentFailed': 'The payment failed. Nothing was charged.',
  'wallet.pending': '(pending)',
  // <diamond-gift-button>
  'gift.send': 'Send {gift}',
  'gift.sendFor': 'Send {gift} for {amount}',
  'gift.pick': 'Send a gift',
  'gift.quantity': 'Quantity',
  'gift.message': 'Message (optional)',
  'gift.sending': 'Sending…',
  'gift.sent': '{gift} sent to {creator}. Thank you!',
  'gift.sentShort': 'Sent!',
  'gift.cancel': 'Cancel',
  'gift.creator': 'the creator',
  'gift.choose': 'Choose a gift',
  'gift.signingIn': 'Sign in in the Diamonds window to send your gift…',
  'gift.toppingUp': 'Finish the top-up in the Diamonds window…',
  'gift.topUpPack': 'Top up {diamonds} for {price}',
  // <diamond-paywall>
  'paywall.price': 'Unlock for {amount}',
  'paywall.threshold': 'For supporters who have sent {amount} in gifts',
  'paywall.progress': 'You have sent {given}; {missing} to go.',
  'paywall.unlock': 'Unlock',
  'paywall.unlocking': 'Unlocking…',
  'paywall.unlocked': 'Unlocked. Enjoy!',
  'paywall.open': 'Open the content',
  // <diamond-checkout>
  'checkout.title': 'Your order',
  'checkout.total': 'Total',
  'checkout.pay': 'Pay {amount}',
  'checkout.paying': 'Paying…',
  'checkout.paid': 'Paid. Thank you!',
  'checkout.receipt': 'Receipt',
  'checkout.quantity': 'Quantity',
};

/** Every string key (see {@link en}). */
export type StringKey = keyof typeof en;

/** A table of strings for one locale: every key of {@link en}. */
export type Strings = Record<StringKey, string>;
