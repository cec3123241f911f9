// Types of the CauseFlow widget SDK, served at /sdk.d.ts beside /sdk.js.
// Save this file in your project (for example as causeflow-widget.d.ts) and
// the global CauseFlowWidget that /sdk.js defines is typed.

declare namespace CauseFlowWidget {
  /** What mount takes. */
  interface MountOptions {
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
    /**
     * The widget's look: scheme "light", "dark" or "auto" (the user's
     * prefers-color-scheme, the default), and an accent colour (#rrggbb) for
     * the user's messages and the Send button. An accent on which white text
     * would not meet WCAG AA contrast (4.5:1) is refused with an "error"
     * event of code "theme_contrast", and the default kept.
     */
    theme?: { scheme?: "light" | "dark" | "auto"; accent?: string };
  }

  /** The details of each event. */
  interface Events {
    /** The first session loaded: the widget is usable. */
    ready: { sessionId: string; expiresAt: string };
    /** The session expired; with getSessionToken, a renewal follows. */
    sessionExpired: { sessionId: string };
    /** The session was revoked: the widget stops, and is not renewed. */
    sessionRevoked: { sessionId: string };
    /** Something failed: code "refresh_failed" (getSessionToken failed), "session_refresh_failed" (the widget refused the new token), "theme_contrast" or "widget_error". */
    error: { code: string; message: string };
    /** The widget was unmounted. */
    closed: {};
  }

  type EventName = keyof Events;

  /** A mounted widget. */
  interface Widget {
    /** The iframe the widget runs in. */
    readonly iframe: HTMLIFrameElement;
    /** Calls fn with each event's details; returns a function that stops the calls. */
    on<E extends EventName>(event: E, fn: (detail: Events[E]) => void): () => void;
    /** Removes the widget; emits "closed". */
    unmount(): void;
  }

  /** Mounts the widget in options.element. Throws a TypeError on invalid options. */
  function mount(options: MountOptions): Widget;
}
