// When a lost connection tries again: after an exponentially growing delay with jitter, so
// that a restarted server is not hit by every client at once, or at once when the browser
// says it is back online.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

export class Backoff {
  /** `retry()` is called when a scheduled attempt is due. @param {() => void} retry */
  constructor(retry) {
    this._retry = retry;
    /** Attempts scheduled since the last `reset()`. */
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._timer = null;
  }

  /** Whether an attempt is scheduled and not yet made. */
  get pending() {
    return this._timer !== null;
  }

  /**
   * Schedules the next attempt; returns `{attempt, delay}` (delay in ms).
   * @returns {{attempt: number, delay: number}}
   */
  schedule() {
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt += 1;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._fire(), delay);
    return { attempt: this.attempt, delay };
  }

  /** Makes the scheduled attempt now, if one is pending. */
  now() {
    if (!this.pending) return;
    clearTimeout(this._timer);
    this._fire();
  }

  /** The connection works again: the next loss starts from the shortest delay. */
  reset() {
    this.attempt = 0;
  }

  /** Drops the scheduled attempt. */
  cancel() {
    clearTimeout(this._timer);
    this._timer = null;
  }

  _fire() {
    this._timer = null;
    this._retry();
  }
}
