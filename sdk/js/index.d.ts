/** What mount takes. */
export interface MountOptions {
  /** The element the widget's iframe is appended to. */
  element: HTMLElement;
  /** The session's widgetUrl, from POST /v1/widget/sessions. https, or http on localhost. */
  widgetUrl: string;
  /** The session's sessionToken, from POST /v1/widget/sessions. */
  sessionToken: string;
  /**
   * Renews the session: called at 90% of its life, and when the widget
   * finds it expired, never after a revocation. Ask your backend for a new
   * session of the same user and incident and return its sessionToken; the
   * widget switches to it without reloading, keeping the conversation on
   * screen. currentToken is the token in use. A rejection is retried with
   * backoff and reported as an "error" event.
   */
  getSessionToken?: (currentToken: string) => string | Promise<string>;
  /** The widget's look; the tenant's defaults (WIDGET_TENANTS) apply where it says nothing. */
  theme?: Theme;
  /**
   * The widget's language, a BCP 47 tag ("de", "pt-BR"). The widget speaks
   * en, de, fr, es, ja and ar (right to left); for another language its
   * strings fall back to the browser's other languages, the tenant's
   * default, then English, while the assistant still answers in it.
   * Default: the browser's languages.
   */
  locale?: string;
}

/** The widget's look, as CSS custom properties of its page. */
export interface Theme {
  /** "light", "dark", or "auto": the user's prefers-color-scheme (the default). */
  scheme?: "light" | "dark" | "auto";
  /**
   * The accent colour (#rrggbb) of the user's messages and the buttons.
   * Any colour: the widget writes on it in white or black, whichever is
   * readable (WCAG AA, at least 4.5:1).
   */
  accent?: string;
  /** The corner radius, a whole number of CSS pixels from 0 to 24 (default 12). */
  radius?: number;
  /**
   * A CSS font-family list ('"Inter", sans-serif'): family names, quotes
   * and commas only. The widget's page loads no web font, so name fonts
   * installed on your users' machines, ending with a generic family.
   */
  font?: string;
}

/** The details of each event. */
export interface Events {
  /** The first session loaded: the widget is usable. */
  ready: { sessionId: string; expiresAt: string };
  /** The session expired; with getSessionToken, a renewal follows. */
  sessionExpired: { sessionId: string };
  /** The session was revoked: the widget stops, and is not renewed. */
  sessionRevoked: { sessionId: string };
  /** Something failed: code "refresh_failed" (getSessionToken failed), "session_refresh_failed" (the widget refused the new token), "theme_invalid" or "widget_error". */
  error: { code: string; message: string };
  /** The widget was unmounted. */
  closed: {};
}

export type EventName = keyof Events;

/** A mounted widget. */
export interface Widget {
  /** The iframe the widget runs in. */
  readonly iframe: HTMLIFrameElement;
  /** Calls fn with each event's details; returns a function that stops the calls. */
  on<E extends EventName>(event: E, fn: (detail: Events[E]) => void): () => void;
  /**
   * Hands the widget a new session token; it switches without reloading,
   * as a renewal does. Throws a TypeError for anything but a non-empty string.
   */
  setSessionToken(sessionToken: string): void;
  /** Removes the widget; emits "closed". */
  unmount(): void;
}

/** Mounts the widget in options.element. Throws a TypeError on invalid options. */
export declare function mount(options: MountOptions): Widget;
