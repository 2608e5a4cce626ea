// Signals (offers, answers, ICE candidates, hangups, state) reach each target in an order
// that keeps every candidate behind the description it belongs to, and one the server
// refuses with `rate_limited` is sent again rather than lost: a newcomer in a full
// workspace sends an offer and dozens of candidates to every member at once, and a server
// configured below that burst refuses part of it.
//
// Barriers and pipelining. Descriptions (`ring`, `answer`, `negotiation`), `busy`,
// `hangup` and signals to everyone (`state`, `hangup` without `to`) are barriers: one is
// sent only once every earlier signal to its target (to everyone: to every target) was
// accepted, and later signals to that target wait until it is accepted. The server
// answers a connection's requests in order, so what is sent after a barrier's `sent`
// reply is relayed after the barrier, whatever it refuses meanwhile. Between barriers,
// `icecandidate` signals are pipelined, up to WINDOW per target in flight, each retried
// on its own when refused: they may reorder among themselves (ICE does not mind), never
// across a barrier. Waiting for each candidate's reply instead would cost a round trip per
// candidate: seconds of call setup over the internet. Targets proceed side by side.
//
// Pacing: a refusal sets a gap between sends that doubles with each further refusal (the
// rate limit is the connection's, so every target keeps it), and shrinks a little with
// each accepted signal: sends settle near the rate the server allows. Once nothing has been
// refused for a while, the gap is forgotten: while nothing is refused, nothing waits.

// Candidates in flight per target. Gathering trickles them out over STUN and TURN round
// trips, so 16 rarely holds one back, while a wider window would only make a tight
// server refuse more at once. A full workspace at the default capacity (4 others: 4
// descriptions, then 64 candidates) stays inside the default request burst (300), and
// below the flood limit (20 times `requests_per_second` within 5 s, where the server closes
// instead of refusing) down to 4 requests per second. After a refusal the gap paces sends.
const WINDOW = 16;
const MIN_GAP_MS = 10;
const MAX_GAP_MS = 5_000;
const EASE = 0.95;
const FORGET_MS = 2_000;
const EVERYONE = Symbol('everyone');

/** @import { Empty } from './index.js' */

/**
 * A signal's data: `to` names its target; without it, it goes to everyone.
 * @typedef {{to?: string} & Record<string, unknown>} SignalData
 */

/**
 * A signal in the outbox. `lane`: its target, or EVERYONE.
 * @typedef {object} Item
 * @property {string} event
 * @property {SignalData} data
 * @property {string | typeof EVERYONE} lane
 * @property {boolean} barrier
 * @property {(reply: Empty) => void} resolve
 * @property {(err: Error) => void} reject
 * @property {boolean} sending
 * @property {number} wave
 * @property {boolean} [done]
 */

export class Outbox {
  /**
   * `send(event, data)` resolves to the reply's data or rejects with a SwitchboardError.
   * @param {(event: string, data: SignalData) => Promise<Empty>} send
   */
  constructor(send) {
    this._send = send;
    /** Signals not yet accepted or failed, in the order they were made. @type {Item[]} */
    this._items = [];
    this._gapMs = 0;
    this._nextAt = 0;
    this._lastRefusal = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._timer = null;
    // Counts the times the gap grew, so that signals sent together double it once.
    this._wave = 0;
  }

  /**
   * Queues a signal; resolves to its reply once the server accepted it.
   * @param {string} event
   * @param {SignalData} data
   * @returns {Promise<Empty>}
   */
  push(event, data) {
    const lane = data.to ?? EVERYONE;
    const barrier = event !== 'icecandidate' || lane === EVERYONE;
    return new Promise((resolve, reject) => {
      this._items.push({ event, data, lane, barrier, resolve, reject, sending: false, wave: 0 });
      this._pump();
    });
  }

  /**
   * Rejects every queued signal with `err`: their connection is gone, they are stale.
   * @param {Error} err
   */
  flush(err) {
    const items = this._items;
    this._items = [];
    clearTimeout(this._timer);
    this._timer = null;
    this._gapMs = 0;
    this._nextAt = 0;
    items.forEach((item) => {
      item.done = true;
      item.reject(err);
    });
  }

  /**
   * Rejects the queued signals to `to` with `err` (it left or went offline: they are stale).
   * @param {string} to
   * @param {Error} err
   */
  drop(to, err) {
    for (const item of this._items.filter((i) => i.lane === to && !i.sending)) {
      this._settle(item, () => item.reject(err));
    }
    this._pump();
  }

  _pump() {
    if (this._timer) return; // waiting out the gap; the timer pumps again
    for (const item of this._ready()) {
      const wait = this._nextAt - Date.now();
      if (wait > 0) {
        this._timer = setTimeout(() => {
          this._timer = null;
          this._pump();
        }, wait);
        return;
      }
      this._attempt(item);
      this._nextAt = Date.now() + this._gap();
    }
  }

  // The signals that may go now, in the order they were made. Per target: a barrier when
  // nothing made before it is left, a candidate when no barrier before it is left and the
  // window has room. Nothing past a signal to everyone, which goes only when it is first.
  /** @returns {Item[]} */
  _ready() {
    /** @typedef {{before: number, fenced: boolean, flying: number}} Lane */
    /** @type {Map<Item['lane'], Lane>} */
    const lanes = new Map();
    /** @param {Item['lane']} key */
    const lane = (key) => {
      if (!lanes.has(key)) lanes.set(key, { before: 0, fenced: false, flying: 0 });
      return /** @type {Lane} */ (lanes.get(key));
    };
    for (const item of this._items) if (item.sending) lane(item.lane).flying += 1;
    const ready = [];
    for (const [index, item] of this._items.entries()) {
      if (item.lane === EVERYONE) {
        if (index === 0 && !item.sending) ready.push(item);
        break;
      }
      const l = lane(item.lane);
      if (item.barrier) {
        if (l.before === 0 && !item.sending) ready.push(item);
        l.fenced = true;
      } else if (!l.fenced && !item.sending && l.flying < WINDOW) {
        ready.push(item);
        l.flying += 1;
      }
      l.before += 1;
    }
    return ready;
  }

  /** @param {Item} item */
  async _attempt(item) {
    item.sending = true;
    item.wave = this._wave;
    try {
      const reply = await this._send(item.event, item.data);
      this._accepted();
      this._settle(item, () => item.resolve(reply));
    } catch (err) {
      item.sending = false;
      if (err.code === 'rate_limited' && !item.done) this._refused(item);
      else this._settle(item, () => item.reject(err));
    }
    this._pump();
  }

  /**
   * @param {Item} item
   * @param {() => void} finish
   */
  _settle(item, finish) {
    if (item.done) return; // flushed meanwhile
    item.done = true;
    this._items.splice(this._items.indexOf(item), 1);
    finish();
  }

  _gap() {
    if (Date.now() - this._lastRefusal > FORGET_MS) this._gapMs = 0;
    return this._gapMs;
  }

  /** @param {Item} item */
  _refused(item) {
    // Refusals of signals sent before the gap last grew say nothing new about the rate.
    if (item.wave === this._wave) {
      this._wave += 1;
      this._gapMs = Math.min(MAX_GAP_MS, Math.max(MIN_GAP_MS, this._gapMs * 2));
    }
    this._lastRefusal = Date.now();
    this._nextAt = Math.max(this._nextAt, Date.now() + this._gapMs);
  }

  _accepted() {
    if (this._gapMs > 0) this._gapMs = Math.max(MIN_GAP_MS, this._gapMs * EASE);
  }
}
