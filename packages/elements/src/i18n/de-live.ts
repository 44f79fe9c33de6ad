import type { LiveStrings } from './en.js';

/** The German strings of the live elements (see `en.ts`); `locales/de-live.ts` registers them. */
export const deLive: LiveStrings = {
  'live.feedLabel': 'Live-Geschenke',
  'live.waiting': 'Noch keine Geschenke.',
  'live.gift': '{fan} hat {gift} geschickt',
  'live.combo': '×{count}',
  'live.comboLabel': '{count} hintereinander',
  'live.hidden': 'Nachricht vom Filter der Creatorin oder des Creators ausgeblendet',
  'live.announce': '{fan} hat {gift} ×{count} geschickt',
  'live.announceMore': '{fan} hat {gift} ×{count} geschickt, und {more} weitere Geschenke',
  'live.reconnecting': 'Verbindung wird wiederhergestellt…',
  'live.creatorNotFound': 'Diese Creatorin oder dieser Creator wurde nicht gefunden.',
  'live.busy': 'Zu viele Live-Verbindungen von hier. Gleich ein neuer Versuch…',
  'live.noGoal': 'Gerade kein Ziel.',
  'live.goalLabel': 'Ziel: {title}',
  'live.goalProgress': '{progress} von {target}',
  'live.goalReached': 'Ziel erreicht!',
  'live.topTitle': 'Top-Schenkende',
  'live.top.session': 'Top-Schenkende in diesem Live',
  'live.top.today': 'Top-Schenkende heute',
  'live.top.all_time': 'Top-Schenkende aller Zeiten',
  'live.noGifters': 'Noch niemand hat etwas geschenkt.',
};
