// The ICE servers of a call, kept valid. TURN credentials expire (the `ttl` of the
// `iceservers` reply): a list kept past it makes new peer connections and ICE restarts
// fail exactly where TURN is needed, behind NAT. So the list is fetched again when 80 % of
// its lifetime has passed, and a peer connection about to be made with an expired list
// (a sleeping laptop misses its timers) waits for a fresh one.

const REFRESH_AT = 0.8;
// After a failed fetch, the next try; meanwhile the old list is used.
const RETRY_MS = 15_000;
// setTimeout's largest delay; a longer lifetime is refreshed in steps.
const MAX_DELAY_MS = 2 ** 31 - 1;

/** @import { IceServerList } from './index.js' */

export class IceServers {
  /**
   * `fetch()` resolves to the `iceservers` reply (`{ice_servers, ttl}`); `onChange(list)`
   * is called with each new list, for the peer connections that exist already.
   * @param {() => Promise<IceServerList>} fetch
   * @param {(list: RTCIceServer[]) => void} onChange
   */
  constructor(fetch, onChange) {
    this._fetch = fetch;
    this._onChange = onChange;
    /** The current RTCIceServer list. @type {RTCIceServer[]} */
    this.list = [];
    this._expiresAt = 0;
    this._retryAt = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._timer = null;
    /** @type {Promise<RTCIceServer[]> | null} */
    this._loading = null;
    this._stopped = false;
  }

  /** Fetches the list now (once at a time); resolves to the list, the old one on failure. */
  update() {
    this._loading ??= this._load().finally(() => (this._loading = null));
    return this._loading;
  }

  /** The list, fetched anew first when it has expired. */
  async fresh() {
    const now = Date.now();
    if (now < this._expiresAt || now < this._retryAt) return this.list;
    return this.update();
  }

  /** No more fetches (the call closed). */
  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
  }

  async _load() {
    const started = Date.now();
    try {
      const { ice_servers: list, ttl } = await this._fetch();
      if (this._stopped) return this.list;
      const lifetimeMs = Math.max(1, Number(ttl) || 0) * 1000;
      this.list = list ?? [];
      this._expiresAt = started + lifetimeMs;
      this._schedule(lifetimeMs * REFRESH_AT);
      this._onChange(this.list);
    } catch {
      // Host and STUN candidates still connect most peers: keep going with what we have.
      this._retryAt = Date.now() + RETRY_MS;
      this._schedule(RETRY_MS);
    }
    return this.list;
  }

  /** @param {number} delayMs */
  _schedule(delayMs) {
    clearTimeout(this._timer);
    if (this._stopped) return;
    this._timer = setTimeout(() => this.update(), Math.min(MAX_DELAY_MS, Math.max(1000, delayMs)));
  }
}
