// What the SDK's parts share: its error type, reading a token's claims, and the session
// tokens kept in sessionStorage so that a reloaded page can re-attend.

/** @import { ErrorCode, StoredSession, TokenClaims } from './index.js' */

const STORAGE_PREFIX = 'switchboard:session:';
const LAST_KEY = 'switchboard:last';

/**
 * A failed request: `code` is the protocol's error code, or `timeout` / `disconnected`
 * (see {@link ErrorCode}); `message` is the server's human text (or the SDK's).
 */
export class SwitchboardError extends Error {
  /**
   * @param {ErrorCode} code The error code.
   * @param {string} [message] The human text (default: the code).
   */
  constructor(code, message) {
    super(message || code);
    /** Always `SwitchboardError`. */
    this.name = 'SwitchboardError';
    /**
     * What went wrong, for the program: compare it, never `message`.
     * @type {ErrorCode}
     */
    this.code = code;
  }
}

/**
 * The claims of a JWT, unverified (the server verifies; we only read `wid` and `exp`).
 * @param {string} token An invite or session token.
 * @returns {TokenClaims | null} Its claims, or `null` when it is not a readable JWT.
 */
export function decodeToken(token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

// Drops undefined fields, so that optional fields are left out rather than sent as null.
/**
 * @template {object} T
 * @param {T} obj
 * @returns {Partial<T>}
 */
export function compact(obj) {
  return /** @type {Partial<T>} */ (Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)));
}

/** @returns {Storage | null} */
function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: sessions then only survive reconnects, not reloads
  }
}

/**
 * Session tokens in sessionStorage: one per workspace (per tab), plus the last one used.
 * Keys: `switchboard:session:<workspace id>` and `switchboard:last` (a workspace id). The
 * SDK stores every session token it receives and forgets it when the membership ends;
 * where storage is disabled, nothing is stored and nothing found.
 */
export const sessions = {
  /**
   * The stored session token for a workspace id, or null.
   * @param {string} workspaceId The workspace id (e.g. the `wid` of an invite, see {@link decodeToken}).
   * @returns {string | null}
   */
  get(workspaceId) {
    return storage()?.getItem(STORAGE_PREFIX + workspaceId) ?? null;
  },
  /**
   * Stores a session token for a workspace, and makes it the last one used (the SDK
   * does this with every token it receives).
   * @param {string} workspaceId The workspace id.
   * @param {string} token The session token.
   * @returns {void}
   */
  set(workspaceId, token) {
    storage()?.setItem(STORAGE_PREFIX + workspaceId, token);
    storage()?.setItem(LAST_KEY, workspaceId);
  },
  /**
   * Forgets the session token of a workspace (and the last one used, when it is that).
   * @param {string} workspaceId The workspace id.
   * @returns {void}
   */
  forget(workspaceId) {
    const s = storage();
    if (!s) return;
    s.removeItem(STORAGE_PREFIX + workspaceId);
    if (s.getItem(LAST_KEY) === workspaceId) s.removeItem(LAST_KEY);
  },
  /**
   * The most recently stored session: `{workspaceId, token}` or null.
   * @returns {StoredSession | null}
   */
  last() {
    const workspaceId = storage()?.getItem(LAST_KEY);
    const token = workspaceId && this.get(workspaceId);
    return token ? { workspaceId, token } : null;
  },
};
