// CauseFlow widget SDK. Load it from the widget's server and mount the widget
// with the session your backend got from POST /v1/widget/sessions:
//
//   <script src="https://widget.causeflow.ai/sdk.js"></script>
//   var widget = CauseFlowWidget.mount({
//     element: document.getElementById("help"),
//     widgetUrl: session.widgetUrl,
//     sessionToken: session.sessionToken,
//     // Optional: called before the session expires (at 90% of its life),
//     // and again if the widget finds it expired. Ask your backend for a new
//     // session of the same user and incident, and return its token.
//     getSessionToken: function (currentToken) {
//       return fetch("/my-backend/widget-session", { method: "POST" })
//         .then(function (r) { return r.json(); })
//         .then(function (s) { return s.sessionToken; });
//     },
//     theme: { scheme: "auto", accent: "#1f5fbf" } // optional
//   });
//   widget.on("sessionRevoked", function () { /* the session was revoked */ });
//   ...
//   widget.unmount();
//
// Types: /sdk.d.ts. The token never goes into a URL: the iframe announces
// itself with a causeflow:ready message, and every token is posted to that
// frame, at the widget's exact origin, and nowhere else.
(function (global) {
  "use strict";

  var EVENTS = ["ready", "sessionExpired", "sessionRevoked", "error", "closed"];
  // A session is renewed at this fraction of its remaining life when it is
  // handed over (a new session: of its whole life).
  var REFRESH_AT = 0.9;
  var RETRY_MIN_MS = 2000;
  var RETRY_MAX_MS = 30000;

  function mount(opts) {
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
    var url = new URL(String(opts.widgetUrl), global.location.href);
    // The session token is posted to this origin: in cleartext anyone on
    // the path could read it. Plain http only for a development machine's
    // own loopback.
    var loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1";
    if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
      throw new TypeError("CauseFlowWidget.mount: widgetUrl must be https (http only for localhost and 127.0.0.1)");
    }
    var origin = url.origin;
    var token = opts.sessionToken;
    var getSessionToken = opts.getSessionToken || null;

    var listeners = {};
    EVENTS.forEach(function (e) { listeners[e] = []; });
    function emit(event, detail) {
      listeners[event].slice().forEach(function (fn) {
        try {
          fn(detail);
        } catch (e) {
          global.setTimeout(function () { throw e; }); // the host's bug, reported, not ours to swallow
        }
      });
    }

    var iframe = global.document.createElement("iframe");
    iframe.title = "CauseFlow assistant";
    iframe.referrerPolicy = "no-referrer";
    iframe.setAttribute("allow", "");
    iframe.style.cssText = "width:100%;height:100%;min-height:420px;border:0;border-radius:12px;" +
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
      global.clearTimeout(refreshTimer);
      refreshTimer = null;
      var end = Date.parse(expiresAt);
      if (!getSessionToken || revoked || !mounted || isNaN(end)) {
        return;
      }
      var delay = Math.max(0, (end - Date.now()) * REFRESH_AT);
      refreshTimer = global.setTimeout(refresh, Math.min(delay, 0x7fffffff));
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
        refreshTimer = global.setTimeout(refresh, d);
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
            global.clearTimeout(refreshTimer);
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
    global.addEventListener("message", onMessage);
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
      unmount: function () {
        if (!mounted) {
          return;
        }
        mounted = false;
        global.clearTimeout(refreshTimer);
        global.removeEventListener("message", onMessage);
        if (iframe.parentNode) {
          iframe.parentNode.removeChild(iframe);
        }
        token = null;
        emit("closed", {});
        EVENTS.forEach(function (e) { listeners[e] = []; });
      }
    };
  }

  // checkTheme returns the theme the widget is handed: a scheme ("light",
  // "dark", or "auto" for the user's preference) and an accent colour
  // (#rrggbb, on which the widget writes white text: it refuses one too
  // light for that).
  function checkTheme(theme) {
    if (theme === undefined) {
      return null;
    }
    if (!theme || typeof theme !== "object") {
      throw new TypeError("CauseFlowWidget.mount: theme must be an object");
    }
    var out = {};
    if (theme.scheme !== undefined) {
      if (["light", "dark", "auto"].indexOf(theme.scheme) < 0) {
        throw new TypeError("CauseFlowWidget.mount: theme.scheme must be light, dark or auto");
      }
      out.scheme = theme.scheme;
    }
    if (theme.accent !== undefined) {
      if (typeof theme.accent !== "string" || !/^#[0-9a-fA-F]{6}$/.test(theme.accent)) {
        throw new TypeError("CauseFlowWidget.mount: theme.accent must be a colour such as #1f5fbf");
      }
      out.accent = theme.accent;
    }
    return out;
  }

  global.CauseFlowWidget = Object.freeze({ mount: mount });
})(window);
