/** A timer made by a {@link Clock}. */
export interface ClockTimer {
  cancel(): void;
}

/**
 * The time the webhook worker goes by: when a delivery is due, when a retry comes, when an
 * endpoint has failed for 5 days. Injectable, so tests drive hours of retries in milliseconds
 * ({@link ManualClock}). HTTP timeouts are real time, always.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once `ms` of this clock's time have passed. */
  setTimer(callback: () => void, ms: number): ClockTimer;
}

/** The system's clock and timers (unref'd: they never keep the process alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, ms) {
    const timer = setTimeout(callback, Math.max(0, ms));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface ManualTimer {
  at: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told ({@link ManualClock.advance}): for tests of retries, secret
 * overlaps and the 5-day failure window.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * // …a delivery fails; its retry is due in 5 s (±10%)
 * clock.advance(6_000); // the worker wakes and tries again
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: ManualTimer[] = [];

  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, ms: number): ClockTimer {
    const timer: ManualTimer = { at: this.#now + Math.max(0, ms), callback, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing (in order) every timer that came due. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((timer) => !timer.cancelled && timer.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#timers = this.#timers.filter((timer) => !timer.cancelled && timer.at > this.#now);
    for (const timer of due) timer.callback();
  }
}
