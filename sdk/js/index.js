// @causeflow/widget: the CauseFlow assistant widget for your page.
//
// This file is the SDK's one source. It is the npm package's ES module
// (import { mount } from "@causeflow/widget"), and `go generate
// ./internal/widgetpage` wraps it into /sdk.js, the script that defines
// the global CauseFlowWidget (TestSDKGenerated holds the two the same).
//
// Mount the widget with the session your backend got from
// POST /v1/widget/sessions:
//
//   import { mount } from "@causeflow/widget";
//   const widget = mount({
//     element: document.getElementById("help"),
//     widgetUrl: session.widgetUrl,
//     sessionToken: session.sessionToken,
//     // Optional: called before the session expires (at 90% of its life),
//     // and again if the widget finds it expired. Ask your backend for a new
//     // session of the same user and incident, and return its token.
//     getSessionToken: async (currentToken) =>
//       (await (await fetch("/my-backend/widget-session", { method: "POST" })).json()).sessionToken,
//     theme: { scheme: "auto", accent: "#1f5fbf", radius: 12, font: "Inter, sans-serif" }, // optional
//     locale: "de" // optional; default: the browser's languages
//   });
//   widget.on("sessionRevoked", () => { /* the session was revoked */ });
//   ...
//   widget.unmount();
//
// The token never goes into a URL: the iframe announces itself with a
// causeflow:ready message, and every token is posted to that frame, at the
// widget's exact origin, and nowhere else. Nothing here runs until mount is
// called, so the module can be imported where there is no window (server
// rendering).

var EVENTS = ["ready", "sessionExpired", "sessionRevoked", "error", "closed"];
// A session is renewed at this fraction of its remaining life when it is
// handed over (a new session: of its whole life).
var REFRESH_AT = 0.9;
var RETRY_MIN_MS = 2000;
var RETRY_MAX_MS = 30000;

export function mount(opts) {
  if (!opts || !opts.element || typeof opts.element.appendChild !== "function") {
    throw new TypeError("CauseFlowWidget.mount: element must be a DOM element");
  }
  if (typeof opts.sessionToken !== "string" || opts.sessionToken === "") {
    throw new TypeError("CauseFlowWidget.mount: sessionToken is required");
  }
  if (opts.getSessionToken !== undefined && typeof opts.getSessionToken !== "function") {
    throw new TypeError("CauseFlowWidget.mount: getSessionToken must be a function returning a token or a promise of one");
  }
  var theme = checkTheme(opts.theme);
  var locale = checkLocale(opts.locale);
  var url = new URL(String(opts.widgetUrl), window.location.href);
  // The session token is posted to this origin: in cleartext anyone on
  // the path could read it. Plain http only for a development machine's
  // own loopback.
  var loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new TypeError("CauseFlowWidget.mount: widgetUrl must be https (http only for localhost and 127.0.0.1)");
  }
  var origin = url.origin;
  if (locale) {
    // Not a secret: the widget's page renders in it from the first paint.
    url.searchParams.set("locale", locale);
  }
  var token = opts.sessionToken;
  var getSessionToken = opts.getSessionToken || null;

  var listeners = {};
  EVENTS.forEach(function (e) { listeners[e] = []; });
  function emit(event, detail) {
    listeners[event].slice().forEach(function (fn) {
      try {
        fn(detail);
      } catch (e) {
        window.setTimeout(function () { throw e; }); // the host's bug, reported, not ours to swallow
      }
    });
  }

  var iframe = window.document.createElement("iframe");
  iframe.title = "CauseFlow assistant";
  iframe.referrerPolicy = "no-referrer";
  iframe.setAttribute("allow", "");
  var radius = theme && theme.radius !== undefined ? theme.radius : 12;
  iframe.style.cssText = "width:100%;height:100%;min-height:420px;border:0;border-radius:" + radius + "px;" +
    "box-shadow:0 2px 12px rgba(20,30,50,.15);background:#f6f7f9;display:block;";

  var mounted = true;
  var frameReady = false; // the frame said causeflow:ready: it takes tokens
  var readyEmitted = false;
  var revoked = false;    // revocation means stop: never renewed
  var refreshTimer = null;
  var refreshing = false;
  var failures = 0;

  function hand(tok) {
    if (frameReady && mounted) {
      iframe.contentWindow.postMessage({ type: "causeflow:session", sessionToken: tok, theme: theme }, origin);
    }
  }

  function schedule(expiresAt) {
    window.clearTimeout(refreshTimer);
    refreshTimer = null;
    var end = Date.parse(expiresAt);
    if (!getSessionToken || revoked || !mounted || isNaN(end)) {
      return;
    }
    var delay = Math.max(0, (end - Date.now()) * REFRESH_AT);
    refreshTimer = window.setTimeout(refresh, Math.min(delay, 0x7fffffff));
  }

  // refresh asks the host for a new token and hands it to the widget,
  // which switches to the new session without reloading. A failure is
  // retried with backoff, and reported.
  function refresh() {
    refreshTimer = null;
    if (!getSessionToken || revoked || !mounted || refreshing) {
      return;
    }
    refreshing = true;
    var current = token;
    new Promise(function (resolve) { resolve(getSessionToken(current)); }).then(function (next) {
      refreshing = false;
      if (!mounted || revoked) {
        return;
      }
      if (typeof next !== "string" || next === "") {
        throw new TypeError("getSessionToken did not return a session token");
      }
      failures = 0;
      token = next;
      hand(token);
    }).catch(function (err) {
      refreshing = false;
      if (!mounted || revoked) {
        return;
      }
      emit("error", { code: "refresh_failed", message: String(err && err.message || err) });
      var d = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * Math.pow(2, failures++));
      refreshTimer = window.setTimeout(refresh, d);
    });
  }

  function onMessage(ev) {
    // Only the frame we created, served from the widget's origin.
    if (ev.source !== iframe.contentWindow || ev.origin !== origin || !ev.data) {
      return;
    }
    var d = ev.data;
    switch (d.type) {
      case "causeflow:ready":
        frameReady = true;
        hand(token);
        break;
      case "causeflow:session-ready":
        schedule(d.expiresAt);
        if (!readyEmitted) {
          readyEmitted = true;
          emit("ready", { sessionId: String(d.sessionId), expiresAt: String(d.expiresAt) });
        }
        break;
      case "causeflow:session-ended":
        if (d.reason === "revoked") {
          revoked = true;
          window.clearTimeout(refreshTimer);
          emit("sessionRevoked", { sessionId: String(d.sessionId || "") });
        } else if (d.reason === "expired") {
          emit("sessionExpired", { sessionId: String(d.sessionId || "") });
          refresh();
        }
        break;
      case "causeflow:error":
        emit("error", { code: String(d.code || "widget_error"), message: String(d.message || "") });
        break;
    }
  }
  // Listening before the frame exists: its ready message cannot be missed.
  window.addEventListener("message", onMessage);
  iframe.src = url.href;
  opts.element.appendChild(iframe);

  return {
    iframe: iframe,
    // on calls fn with each event's details; it returns a function that
    // stops the calls.
    on: function (event, fn) {
      if (!listeners[event]) {
        throw new TypeError("CauseFlowWidget: unknown event " + JSON.stringify(event) + "; events are " + EVENTS.join(", "));
      }
      if (typeof fn !== "function") {
        throw new TypeError("CauseFlowWidget: on needs a function");
      }
      listeners[event].push(fn);
      return function () {
        var i = listeners[event].indexOf(fn);
        if (i >= 0) {
          listeners[event].splice(i, 1);
        }
      };
    },
    // setSessionToken hands the widget a new session token (of the same
    // user, or another session): it switches without reloading, as a
    // renewal through getSessionToken does. A framework component calls
    // it when its sessionToken changes.
    setSessionToken: function (next) {
      if (typeof next !== "string" || next === "") {
        throw new TypeError("CauseFlowWidget: setSessionToken needs a session token");
      }
      if (!mounted || next === token) {
        return;
      }
      revoked = false; // a new session may follow a revoked one
      token = next;
      hand(token);
    },
    unmount: function () {
      if (!mounted) {
        return;
      }
      mounted = false;
      window.clearTimeout(refreshTimer);
      window.removeEventListener("message", onMessage);
      if (iframe.parentNode) {
        iframe.parentNode.removeChild(iframe);
      }
      token = null;
      emit("closed", {});
      EVENTS.forEach(function (e) { listeners[e] = []; });
    }
  };
}

// The theme's rules. FONT is what a font family may be: family names,
// quoted or not, and commas; nothing that could end the CSS value or load
// anything. The widget and the tenants' document apply the same rules, and
// a test in internal/tenants holds the three equal.
var FONT = /^[\p{L}\p{N} ,'"_.-]{1,200}$/u;
var MAX_RADIUS = 24;
var ACCENT = /^#[0-9a-fA-F]{6}$/;

// checkTheme returns the theme the widget is handed: a scheme ("light",
// "dark", or "auto" for the user's preference), an accent colour
// (#rrggbb: the widget writes on it in white or black, whichever is
// readable), a corner radius (0 to 24 CSS pixels) and a font family (fonts
// installed on the user's machine: the widget's page loads no web font).
// Anything else is a TypeError that says what is wrong.
function checkTheme(theme) {
  if (theme === undefined) {
    return null;
  }
  if (!theme || typeof theme !== "object") {
    throw new TypeError("CauseFlowWidget.mount: theme must be an object");
  }
  var out = {};
  Object.keys(theme).forEach(function (k) {
    if (["scheme", "accent", "radius", "font"].indexOf(k) < 0) {
      throw new TypeError("CauseFlowWidget.mount: theme." + k + " is not a theme property; they are scheme, accent, radius and font");
    }
  });
  if (theme.scheme !== undefined) {
    if (["light", "dark", "auto"].indexOf(theme.scheme) < 0) {
      throw new TypeError("CauseFlowWidget.mount: theme.scheme must be light, dark or auto");
    }
    out.scheme = theme.scheme;
  }
  if (theme.accent !== undefined) {
    if (typeof theme.accent !== "string" || !ACCENT.test(theme.accent)) {
      throw new TypeError("CauseFlowWidget.mount: theme.accent must be a colour such as #1f5fbf");
    }
    out.accent = theme.accent;
  }
  if (theme.radius !== undefined) {
    if (typeof theme.radius !== "number" || theme.radius % 1 !== 0 || theme.radius < 0 || theme.radius > MAX_RADIUS) {
      throw new TypeError("CauseFlowWidget.mount: theme.radius must be a whole number of pixels from 0 to " + MAX_RADIUS);
    }
    out.radius = theme.radius;
  }
  if (theme.font !== undefined) {
    if (typeof theme.font !== "string" || !FONT.test(theme.font)) {
      throw new TypeError("CauseFlowWidget.mount: theme.font must be a CSS font-family list such as '\"Inter\", sans-serif' (names, quotes and commas only)");
    }
    out.font = theme.font;
  }
  return out;
}

// checkLocale returns the widget's language as a canonical BCP 47 tag, or
// "" for the browser's own. The widget speaks en, de, fr, es, ja and ar;
// for another language its strings fall back (the browser's other
// languages, then English) while the assistant still answers in it.
function checkLocale(locale) {
  if (locale === undefined || locale === null || locale === "") {
    return "";
  }
  if (typeof locale !== "string" || locale.length > 35) {
    throw new TypeError("CauseFlowWidget.mount: locale must be a BCP 47 language tag such as \"de\" or \"pt-BR\"");
  }
  try {
    return Intl.getCanonicalLocales(locale)[0];
  } catch (e) {
    throw new TypeError("CauseFlowWidget.mount: locale " + JSON.stringify(locale) + " is not a BCP 47 language tag (such as \"de\" or \"pt-BR\")");
  }
}
