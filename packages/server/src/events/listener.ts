import pg from 'pg';
import { EventBus, type EventWakeListener, type WakeSource } from './bus.js';

/** The channel the `events` table's trigger notifies on each insert (delivered on commit). */
export const EVENTS_CHANNEL = 'diamonds_events';

/** How long to wait before connecting again after the listening connection was lost. */
const RECONNECT_DELAY_MS = 500;

/**
 * A dedicated PostgreSQL connection that `LISTEN`s for committed events, from this process or
 * any other on the same database, and wakes local consumers.
 *
 * @remarks
 * A notification says only "events committed": consumers read the table by cursor. Should the
 * connection drop, notifications sent meanwhile are lost, so each reconnection wakes every
 * subscriber once (and the consumers' poll interval bounds the rest).
 */
export class PostgresEventListener implements WakeSource {
  readonly #connectionString: string;
  readonly #bus = new EventBus();
  #client: pg.Client | undefined;
  #closed = false;
  #reconnect: NodeJS.Timeout | undefined;
  /** Notifications received (for tests and the benchmark). */
  notifications = 0;

  private constructor(connectionString: string) {
    this.#connectionString = connectionString;
  }

  /** Connects and listens; resolves once `LISTEN` is in place. */
  static async start(connectionString: string): Promise<PostgresEventListener> {
    const listener = new PostgresEventListener(connectionString);
    await listener.#connect();
    return listener;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#connectionString });
    client.on('notification', (message) => {
      if (message.channel !== EVENTS_CHANNEL) return;
      this.notifications++;
      this.#bus.publish([]);
    });
    client.on('error', (error) => {
      if (this.#closed) return;
      console.error('[events] the LISTEN connection failed; reconnecting', error.message);
      this.#lost(client);
    });
    client.on('end', () => this.#lost(client));
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.#client = client;
  }

  #lost(client: pg.Client): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnect) return;
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      this.#connect().then(
        () => this.#bus.publish([]),
        (error: unknown) => {
          console.error('[events] could not LISTEN again', error);
          this.#scheduleReconnect();
        },
      );
    }, RECONNECT_DELAY_MS);
    this.#reconnect.unref();
  }

  subscribe(listener: EventWakeListener): () => void {
    return this.#bus.subscribe(listener);
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    const client = this.#client;
    this.#client = undefined;
    await client?.end();
  }
}
