// The CauseFlow widget, running inside the iframe that sdk.js creates.
//
// It never reads a token from its URL: the host page hands the session token
// over with postMessage, and only a host whose origin is on the allow-list
// the server put in <meta name="causeflow-origins"> is listened to. Server
// data is only ever rendered with textContent.
(function () {
  "use strict";

  // The theme's rules. FONT is what a font family may be: family names,
  // quoted or not, and commas (the SDK and the tenants' document apply the
  // same rules; a test in internal/tenants holds the three equal).
  // Declared before the tenant's theme is applied, at the start.
  var FONT = /^[\p{L}\p{N} ,'"_.-]{1,200}$/u;
  var MAX_RADIUS = 24;
  var ACCENT = /^#[0-9a-fA-F]{6}$/;
  var RECONNECT_MIN_MS = 500;
  var RECONNECT_MAX_MS = 15000;
  // Codes of a final stream error after which reconnecting cannot help,
  // and what the host page is told: an expired session may be renewed, a
  // revoked one never.
  var TERMINAL = {
    session_revoked: { message: "revoked", reason: "revoked" },
    session_expired: { message: "expired", reason: "expired" }
  };

  var allowed = (document.querySelector('meta[name="causeflow-origins"]') || { content: "" })
    .content.split(/\s+/).filter(Boolean);
  // The tenant's defaults (WIDGET_TENANTS): its look, applied before any
  // host page's theme, which wins where it says something, and its
  // language.
  var defaults = {};
  try {
    defaults = JSON.parse((document.querySelector('meta[name="causeflow-theme"]') || { content: "{}" }).content || "{}") || {};
  } catch (e) { /* no defaults */ }
  var params = new URLSearchParams(window.location.search);

  // ---- the language ----------------------------------------------------------

  var STRINGS = window.CauseFlowStrings || {};
  // The user's language, as the host or the browser states it: the tag the
  // assistant answers in, whether or not the widget's own strings exist in
  // it.
  var userLocale = canonical(params.get("locale")) || canonical(navigator.language) || "";
  // The widget's strings: the host's locale, then the browser's languages,
  // then the tenant's default, then English; by primary language.
  var lang = pickLanguage([params.get("locale")].concat(navigator.languages || [navigator.language], [defaults.locale]));
  var strings = STRINGS[lang] || STRINGS.en || {};

  function canonical(tag) {
    try {
      return tag ? Intl.getCanonicalLocales(String(tag))[0] : "";
    } catch (e) {
      return "";
    }
  }

  function pickLanguage(tags) {
    for (var i = 0; i < tags.length; i++) {
      var primary = canonical(tags[i]).split("-")[0].toLowerCase();
      if (primary && STRINGS[primary]) {
        return primary;
      }
    }
    return "en";
  }

  // t is the string key in the widget's language, its {placeholders}
  // filled from vars.
  function t(key, vars) {
    var s = strings[key] || (STRINGS.en && STRINGS.en[key]) || key;
    return s.replace(/\{(\w+)\}/g, function (m, name) {
      return vars && vars[name] !== undefined ? String(vars[name]) : m;
    });
  }

  // The page in the widget's language: lang and dir on <html> (Arabic
  // right to left: the style sheet uses logical properties, so the layout
  // mirrors), and every element's text and labels.
  (function localize() {
    var root = document.documentElement;
    root.lang = lang;
    root.dir = lang === "ar" ? "rtl" : "ltr";
    var all = document.querySelectorAll("[data-i18n], [data-i18n-placeholder], [data-i18n-aria-label], [data-i18n-title]");
    for (var i = 0; i < all.length; i++) {
      var node = all[i];
      if (node.hasAttribute("data-i18n")) {
        node.textContent = t(node.getAttribute("data-i18n"));
      }
      [["data-i18n-placeholder", "placeholder"], ["data-i18n-aria-label", "aria-label"], ["data-i18n-title", "title"]].forEach(function (a) {
        if (node.hasAttribute(a[0])) {
          node.setAttribute(a[1], t(node.getAttribute(a[0])));
        }
      });
    }
  })();
  applyTheme(defaults);
  var expectedSession = params.get("session");
  // The tenant whose host pages may frame this page (the server chose the
  // allow-list above by it): a token of another tenant is refused, so that
  // one tenant's pages can never show another's session.
  var expectedTenant = params.get("tenant");

  var el = {
    title: document.getElementById("cf-title"),
    severity: document.getElementById("cf-severity"),
    messages: document.getElementById("cf-messages"),
    notice: document.getElementById("cf-notice"),
    form: document.getElementById("cf-form"),
    input: document.getElementById("cf-input"),
    send: document.getElementById("cf-send"),
    stop: document.getElementById("cf-stop"),
    announce: document.getElementById("cf-announce")
  };

  var token = null;       // the session token, from the host page only
  var hostOrigin = null;  // the origin of the host page that handed it over
  var sessionId = null;
  var expiresAt = "";     // the session's expiry, RFC 3339
  var switching = null;   // the token being switched to, while it loads
  var started = false;
  var ended = false;      // the session is over: no more reconnects
  var source = null;      // the open EventSource
  var lastEventId = "";   // the last event id seen, to resume after a drop
  var attempts = 0;       // consecutive failed connects, for the backoff
  var reconnectTimer = null;
  var bubbles = {};       // messageId -> { li, text, raw, next, done }
  var replies = {};       // the user's messageId -> the bubble of its reply

  // ---- the hand-over -------------------------------------------------------

  window.addEventListener("message", function (ev) {
    if (ev.source !== window.parent || allowed.indexOf(ev.origin) < 0) {
      return; // not our host page, or a host that may not embed us
    }
    var d = ev.data;
    if (!d || d.type !== "causeflow:session" || typeof d.sessionToken !== "string" || d.sessionToken === "") {
      return;
    }
    hostOrigin = ev.origin;
    applyTheme(d.theme);
    if (!started) {
      token = d.sessionToken;
      started = true;
      start();
      return;
    }
    if (d.sessionToken !== token && d.sessionToken !== switching) {
      switchSession(d.sessionToken); // the host renewed the session
    }
  });

  // tell sends the host page a message about the session: no secret, and
  // only to the origin that handed the token over.
  function tell(msg) {
    if (hostOrigin && window.parent !== window) {
      window.parent.postMessage(msg, hostOrigin);
    }
  }
  if (window.parent !== window) {
    // Carries no secret, so any target origin will do: the host learns we
    // are ready and answers with the token if it is the SDK.
    window.parent.postMessage({ type: "causeflow:ready" }, "*");
  }

  // ---- the API -------------------------------------------------------------

  function call(method, path, body, withToken) {
    var init = { method: method, headers: { Authorization: "Bearer " + (withToken || token) }, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  function sessionPath(suffix) {
    return "/v1/widget/sessions/" + encodeURIComponent(sessionId) + suffix;
  }

  function start() {
    notice(t("connecting"));
    call("GET", "/v1/widget/session").then(function (r) {
      if (r.status === 401) {
        throw unauthorized();
      }
      if (!r.ok) {
        throw new Error("session " + r.status);
      }
      return r.json();
    }).then(function (info) {
      if (expectedSession && info.sessionId !== expectedSession) {
        throw terminal(t("otherSession"), "invalid");
      }
      if (expectedTenant && info.tenantId !== expectedTenant) {
        throw terminal(t("otherTenant"), "invalid");
      }
      begin(info);
      notice("");
      connect();
    }).catch(function (err) {
      if (err && err.terminal) {
        endSession(err.message, err.reason);
        return;
      }
      started = false; // a later hand-over, or this retry, tries again
      notice(t("loadRetry"), true);
      setTimeout(function () { if (!started && token) { started = true; start(); } }, backoff());
    });
  }

  // begin makes info the session the widget serves, and tells the host.
  function begin(info) {
    sessionId = info.sessionId;
    expiresAt = String(info.expiresAt || "");
    showIncident(info);
    ended = false;
    el.input.disabled = false;
    el.send.disabled = false;
    tell({ type: "causeflow:session-ready", sessionId: sessionId, expiresAt: expiresAt });
  }

  // switchSession moves to the session of a new token, without reloading:
  // the conversation so far stays on screen, marked as the earlier
  // session, and the stream goes on with the new one. A token that does
  // not load leaves the current session as it is.
  function switchSession(next) {
    switching = next;
    call("GET", "/v1/widget/session", undefined, next).then(function (r) {
      if (!r.ok) {
        throw new Error("the new session token was refused (" + r.status + ")");
      }
      return r.json();
    }).then(function (info) {
      if (switching !== next) {
        return; // a newer token came meanwhile
      }
      if (expectedTenant && info.tenantId !== expectedTenant) {
        switching = null;
        throw new Error("the new session token is for another tenant");
      }
      switching = null;
      token = next;
      if (info.sessionId === sessionId) {
        tell({ type: "causeflow:session-ready", sessionId: sessionId, expiresAt: String(info.expiresAt || "") });
        return; // the same session, a new token for it
      }
      if (reconnectTimer !== null) {
        clearTimeout(reconnectTimer);
        reconnectTimer = null;
      }
      if (source) {
        source.close();
        source = null;
      }
      markEarlier();
      bubbles = {};
      replies = {};
      lastEventId = "";
      attempts = 0;
      answered(pending);
      begin(info);
      notice(t("renewed"));
      connect();
    }).catch(function (err) {
      if (switching === next) {
        switching = null;
      }
      tell({ type: "causeflow:error", code: "session_refresh_failed", message: String(err && err.message || err) });
    });
  }

  // markEarlier keeps the conversation so far on screen as the earlier
  // session's, below a divider that says so.
  function markEarlier() {
    var items = el.messages.querySelectorAll(".msg:not(.earlier)");
    if (items.length === 0) {
      return;
    }
    for (var i = 0; i < items.length; i++) {
      items[i].classList.add("earlier");
      // Rated with the earlier session's token or not at all: its
      // controls go, what was rated stays marked.
      var controls = items[i].querySelectorAll(".fb-btn:not([aria-pressed=\"true\"]), .fb-reason");
      for (var j = 0; j < controls.length; j++) {
        controls[j].parentNode.removeChild(controls[j]);
      }
      var pressed = items[i].querySelectorAll(".fb-btn");
      for (var k = 0; k < pressed.length; k++) {
        pressed[k].disabled = true;
      }
    }
    var li = document.createElement("div");
    li.className = "divider";
    li.setAttribute("role", "separator");
    li.textContent = t("divider");
    el.messages.appendChild(li);
  }

  function showIncident(info) {
    var inc = info.incident;
    if (inc && inc.title) {
      el.title.textContent = inc.title;
    } else if (info.contextStatus === "unavailable") {
      el.title.textContent = t("noContext");
    } else {
      el.title.textContent = t("brand");
    }
    var sev = inc && typeof inc.severity === "string" ? inc.severity.toLowerCase() : "";
    if (/^[a-z]{1,20}$/.test(sev)) {
      el.severity.textContent = sev;
      el.severity.className = "badge sev-" + sev;
      el.severity.hidden = false;
    }
  }

  // ---- the stream ----------------------------------------------------------

  // connect gets a fresh single-use ticket and opens the stream after the
  // last event seen. EventSource's own reconnect would replay the spent
  // ticket, so every error closes it and reconnects here instead.
  function connect() {
    reconnectTimer = null;
    if (ended) {
      return;
    }
    call("POST", sessionPath("/stream-tickets")).then(function (r) {
      if (r.status === 401) {
        throw unauthorized();
      }
      if (!r.ok) {
        throw new Error("ticket " + r.status);
      }
      return r.json();
    }).then(function (t) {
      if (ended) {
        return;
      }
      var url = sessionPath("/stream") + "?ticket=" + encodeURIComponent(t.ticket);
      if (lastEventId) {
        url += "&lastEventId=" + encodeURIComponent(lastEventId);
      }
      open(url);
    }).catch(function (err) {
      if (err && err.terminal) {
        endSession(err.message, err.reason);
        return;
      }
      scheduleReconnect();
    });
  }

  function open(url) {
    var es = new EventSource(url);
    source = es;
    es.onopen = function () {
      attempts = 0;
      notice("");
    };
    es.addEventListener("message.created", handler(onCreated));
    es.addEventListener("response.delta", handler(onDelta));
    es.addEventListener("response.completed", handler(onCompleted));
    es.addEventListener("stream.reset", handler(onReset));
    es.addEventListener("response.cancelled", handler(onCancelled));
    es.addEventListener("feedback.created", handler(onFeedback));
    // "error" is both the server's event (a MessageEvent with data) and
    // EventSource's own connection error (a plain Event).
    es.addEventListener("error", function (ev) {
      if (ev instanceof MessageEvent && ev.data) {
        handler(onErrorEvent)(ev);
        return;
      }
      drop(es);
    });
  }

  function drop(es) {
    es.close();
    if (source === es) {
      source = null;
      scheduleReconnect();
    }
  }

  // scheduleReconnect says, in words, that the connection was lost and
  // when the widget will try again.
  function scheduleReconnect() {
    if (ended || reconnectTimer !== null) {
      return;
    }
    var d = backoff();
    notice(t("lostIn", { n: Math.max(1, Math.ceil(d / 1000)) }));
    reconnectTimer = setTimeout(function () {
      notice(t("reconnecting"));
      connect();
    }, d);
  }

  // backoff is exponential with jitter: 0.5 s, 1 s, 2 s, ... up to 15 s.
  function backoff() {
    var d = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * Math.pow(2, attempts));
    attempts++;
    return d / 2 + Math.random() * d / 2;
  }

  function handler(fn) {
    return function (ev) {
      if (ev.lastEventId) {
        lastEventId = ev.lastEventId;
      }
      var d;
      try {
        d = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (d && typeof d === "object") {
        fn(d);
      }
    };
  }

  function onCreated(d) {
    var b = bubble(d.messageId, d.role === "user" ? "user" : "assistant");
    setText(b, String(d.content || ""));
    b.done = true;
    b.li.classList.remove("streaming");
  }

  function onDelta(d) {
    var b = bubble(d.messageId, "assistant");
    if (d.inReplyTo) {
      replies[d.inReplyTo] = b;
    }
    // In order and exactly once: a delta already shown (or one out of
    // order) is not appended twice; response.completed settles the text.
    if (b.done || d.index !== b.next) {
      return;
    }
    b.next++;
    setText(b, b.raw + String(d.delta || ""));
  }

  // stream.reset: what followed the last event seen is no longer held (the
  // log's cap, or a lost log). What comes next is the whole conversation
  // as held: show it afresh rather than a transcript with a silent hole.
  function onReset() {
    bubbles = {};
    replies = {};
    while (el.messages.firstChild) {
      el.messages.removeChild(el.messages.firstChild);
    }
    notice(t("reset"));
  }

  function onCompleted(d) {
    var b = bubble(d.messageId, "assistant");
    setText(b, String(d.content || ""));
    b.done = true;
    b.li.classList.remove("streaming");
    announce(d.inReplyTo, t("answer", { text: b.text.textContent }));
    answered(d.inReplyTo);
    addFeedback(b, d.messageId);
  }

  // response.cancelled: the answer was stopped; what it had said stays.
  function onCancelled(d) {
    var b = bubble(d.messageId, "assistant");
    setText(b, String(d.content || ""));
    b.done = true;
    b.li.classList.remove("streaming");
    b.li.classList.add("cancelled");
    tag(b, t("stoppedTag"));
    announce(d.inReplyTo, t("stoppedSay"));
    answered(d.inReplyTo);
    addFeedback(b, d.messageId);
  }

  // tag adds a visible word about a message's state to its bubble, once.
  function tag(b, text) {
    if (b.li.querySelector(".tag")) {
      return;
    }
    var t = document.createElement("span");
    t.className = "tag";
    t.textContent = text;
    b.li.appendChild(t);
  }

  // announce reads text out to a screen reader, once per question asked in
  // this page: the transcript itself stays quiet while answers stream, and
  // a conversation replayed after a reconnect or a reset is not read again.
  var askedHere = {};
  // early holds what an answer would announce when it ended before its
  // question's 202 reached the widget (a fast answer can).
  var early = {};
  function announce(inReplyTo, text) {
    if (!inReplyTo || askedHere[inReplyTo] === "announced") {
      return;
    }
    if (askedHere[inReplyTo] !== true) {
      early[inReplyTo] = text;
      return;
    }
    askedHere[inReplyTo] = "announced";
    el.announce.textContent = text;
  }

  // ---- stopping an answer ----------------------------------------------------

  // pending is the id of the user's message whose answer is streaming.
  var pending = null;

  // endedAnswers are the questions whose answers have ended, so that a
  // question's 202 arriving after its answer's end (a fast answer) does
  // not show Stop for an answer that is over.
  var endedAnswers = {};

  function asked(messageId) {
    askedHere[messageId] = true;
    if (early[messageId] !== undefined) {
      var text = early[messageId];
      delete early[messageId];
      announce(messageId, text);
    }
    if (endedAnswers[messageId]) {
      return;
    }
    pending = messageId;
    el.stop.hidden = false;
  }

  function answered(inReplyTo) {
    if (inReplyTo) {
      endedAnswers[inReplyTo] = true;
    }
    if (inReplyTo && inReplyTo === pending) {
      pending = null;
      el.stop.hidden = true;
    }
  }

  function stopAnswer() {
    if (!pending || ended) {
      return;
    }
    call("POST", sessionPath("/messages/" + encodeURIComponent(pending) + "/stop")).catch(function () {
      notice(t("stopFailed"), true);
    });
  }

  el.stop.addEventListener("click", stopAnswer);
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && pending) {
      ev.preventDefault();
      stopAnswer();
    }
  });

  function onErrorEvent(d) {
    if (TERMINAL[d.code]) {
      endSession(t(TERMINAL[d.code].message), TERMINAL[d.code].reason);
      return;
    }
    if (d.inReplyTo) {
      // An error event names the question, not the reply: find the reply
      // by what it answers, or show the failure on its own.
      var b = replies[d.inReplyTo] || bubble("failed-" + d.inReplyTo, "assistant");
      b.done = true;
      b.li.classList.remove("streaming");
      b.li.classList.add("failed");
      setText(b, b.raw ? b.raw + "\n\n" + t("interrupted") : t("failed"));
      answered(d.inReplyTo);
      return;
    }
    // A stream-level error that is not final (revocation state unknown, an
    // interrupted stream): the server closes, and we resume from lastEventId.
    notice(t("reconnecting"));
  }

  // ---- the theme -----------------------------------------------------------

  // applyTheme takes a theme (the tenant's defaults, then the host's): the
  // scheme ("light", "dark", or "auto": the user's prefers-color-scheme),
  // the accent colour, the corner radius and the font family, as CSS custom
  // properties. Text on the accent is white or black, whichever is more
  // readable: at least 4.58:1 on any colour, so WCAG AA holds whatever the
  // accent. A value the widget cannot take (the SDK refuses it before it
  // gets here) is ignored, and the host told.
  function applyTheme(theme) {
    if (!theme || typeof theme !== "object") {
      return;
    }
    var root = document.documentElement;
    if (theme.scheme === "light" || theme.scheme === "dark") {
      root.setAttribute("data-scheme", theme.scheme);
    } else if (theme.scheme === "auto") {
      root.removeAttribute("data-scheme");
    }
    if (theme.accent !== undefined) {
      if (typeof theme.accent === "string" && ACCENT.test(theme.accent)) {
        root.style.setProperty("--accent", theme.accent);
        root.style.setProperty("--accent-fg", readableOn(theme.accent));
      } else {
        refuseTheme("accent");
      }
    }
    if (theme.radius !== undefined) {
      if (typeof theme.radius === "number" && theme.radius % 1 === 0 && theme.radius >= 0 && theme.radius <= MAX_RADIUS) {
        root.style.setProperty("--radius", theme.radius + "px");
      } else {
        refuseTheme("radius");
      }
    }
    if (theme.font !== undefined) {
      if (typeof theme.font === "string" && FONT.test(theme.font)) {
        root.style.setProperty("--font", theme.font);
      } else {
        refuseTheme("font");
      }
    }
  }

  function refuseTheme(what) {
    tell({ type: "causeflow:error", code: "theme_invalid", message: "theme." + what + " is not one the widget can take; kept the default" });
  }

  // readableOn is the text colour for a background #rrggbb: white or
  // black, whichever contrasts more (WCAG 2 relative luminance).
  function readableOn(hex) {
    var c = [1, 3, 5].map(function (i) {
      var v = parseInt(hex.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    return 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.05 ? "#ffffff" : "#000000";
  }

  // ---- feedback on answers -------------------------------------------------

  // THUMB is a thumbs-up icon's path (Material Icons, Apache-2.0); the
  // thumbs down is the same, flipped by the style sheet.
  var THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

  // addFeedback gives a finished answer of this session its thumbs up and
  // down. Up is recorded at once; down first asks for an optional reason.
  function addFeedback(b, messageId) {
    if (b.li.querySelector(".feedback") || b.li.classList.contains("earlier")) {
      return;
    }
    var box = document.createElement("div");
    box.className = "feedback";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", t("feedbackGroup"));
    var up = thumb("up", t("helpful"));
    var down = thumb("down", t("notHelpful"));
    up.addEventListener("click", function () { rate(messageId, "up", ""); });
    down.addEventListener("click", function () { askReason(b, messageId); });
    box.appendChild(up);
    box.appendChild(down);
    b.li.appendChild(box);
    b.feedback = box;
  }

  function thumb(rating, label) {
    var btn = document.createElement("button");
    btn.type = "button";
    btn.className = "fb-btn fb-" + rating;
    btn.setAttribute("aria-label", label);
    btn.setAttribute("aria-pressed", "false");
    btn.setAttribute("data-rating", rating);
    btn.title = label;
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", THUMB);
    svg.appendChild(path);
    btn.appendChild(svg);
    return btn;
  }

  // askReason opens, under the answer, an optional reason for a thumbs
  // down, and records the rating when it is sent.
  function askReason(b, messageId) {
    var form = b.li.querySelector(".fb-reason");
    if (form) {
      form.querySelector("input").focus();
      return;
    }
    form = document.createElement("form");
    form.className = "fb-reason";
    var id = "fb-" + messageId;
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = t("reasonLabel");
    var input = document.createElement("input");
    input.id = id;
    input.className = "input";
    input.type = "text";
    input.maxLength = 500;
    var send = document.createElement("button");
    send.type = "submit";
    send.className = "send";
    send.textContent = t("sendFeedback");
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      rate(messageId, "down", input.value.trim());
    });
    b.li.appendChild(form);
    input.focus();
  }

  // rate records the user's rating of answer messageId. The session's log
  // has it once the server answers 201; the stream's feedback.created (on
  // every open widget of the session, and after a resume) marks it.
  function rate(messageId, rating, reason) {
    if (!sessionId || ended) {
      return;
    }
    var body = { rating: rating };
    if (reason) {
      body.reason = reason.slice(0, 500);
    }
    call("POST", sessionPath("/messages/" + encodeURIComponent(messageId) + "/feedback"), body).then(function (r) {
      if (r.status !== 201) {
        throw new Error("feedback " + r.status);
      }
      markRated({ messageId: messageId, rating: rating });
    }).catch(function () {
      notice(t("feedbackFailed"), true);
    });
  }

  // onFeedback: feedback.created, a rating recorded for an answer of this
  // session (the last one counts).
  function onFeedback(d) {
    markRated(d);
  }

  function markRated(d) {
    var b = bubbles[String(d.messageId)];
    if (!b || !b.feedback || (d.rating !== "up" && d.rating !== "down")) {
      return;
    }
    b.li.setAttribute("data-rating", d.rating);
    var buttons = b.feedback.querySelectorAll(".fb-btn");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", String(buttons[i].getAttribute("data-rating") === d.rating));
    }
    var form = b.li.querySelector(".fb-reason");
    if (form) {
      form.parentNode.removeChild(form);
    }
    if (!b.feedback.querySelector(".fb-thanks")) {
      var thanks = document.createElement("span");
      thanks.className = "fb-thanks";
      thanks.textContent = t("thanks");
      b.feedback.appendChild(thanks);
    }
  }

  // ---- rendering -----------------------------------------------------------

  function bubble(id, role) {
    var key = String(id);
    var b = bubbles[key];
    if (b) {
      return b;
    }
    var li = document.createElement("div");
    li.className = "msg " + role + (role === "assistant" ? " streaming" : "");
    li.setAttribute("data-role", role);
    li.setAttribute("data-message-id", key);
    var text = document.createElement("div");
    text.className = "text";
    li.appendChild(text);
    el.messages.appendChild(li);
    b = { li: li, text: text, raw: "", next: 0, done: false };
    bubbles[key] = b;
    return b;
  }

  // setText renders **bold** spans as <strong>, everything else as text:
  // built from text nodes only, so nothing the server says becomes markup.
  function setText(b, raw) {
    b.raw = raw;
    var parts = raw.split("**");
    var nodes = [];
    for (var i = 0; i < parts.length; i++) {
      if (parts[i] === "") {
        continue;
      }
      // An odd part is between two markers; an unclosed marker (mid-stream)
      // stays plain until its closing half arrives.
      if (i % 2 === 1 && i < parts.length - 1) {
        var s = document.createElement("strong");
        s.textContent = parts[i];
        nodes.push(s);
      } else {
        nodes.push(document.createTextNode((i % 2 === 1 ? "**" : "") + parts[i]));
      }
    }
    b.text.replaceChildren.apply(b.text, nodes);
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function notice(text, isError) {
    el.notice.textContent = text;
    el.notice.hidden = text === "";
    el.notice.classList.toggle("error", !!isError);
  }

  function terminal(message, reason) {
    var e = new Error(message);
    e.terminal = true;
    e.reason = reason;
    return e;
  }

  // unauthorized reads a 401 for the session in use: past its expiry it
  // expired; before, it was revoked (or its keys withdrawn), which no
  // renewal may paper over.
  function unauthorized() {
    var end = tokenExpiry(token);
    if (!isNaN(end) && Date.now() >= end - 2000) {
      return terminal(t("expired"), "expired");
    }
    return terminal(t("invalid"), "revoked");
  }

  // tokenExpiry reads the exp claim of a session token (wst_<env>_ then a
  // compact JWS), in milliseconds; NaN when it cannot. The widget holds the
  // token anyway: reading its claims reveals nothing, and tells an expired
  // session from a revoked one when the server answers 401 to both.
  function tokenExpiry(tok) {
    try {
      var payload = String(tok).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var exp = JSON.parse(atob(payload + "===".slice((payload.length + 3) % 4))).exp;
      return typeof exp === "number" ? exp * 1000 : NaN;
    } catch (e) {
      return NaN;
    }
  }

  // endSession stops the widget. The host page is told why; an expired
  // session comes back to life if the host hands over a new token.
  function endSession(message, reason) {
    ended = true;
    tell({ type: "causeflow:session-ended", reason: reason || "invalid", sessionId: sessionId });
    if (reconnectTimer !== null) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
    if (source) {
      source.close();
      source = null;
    }
    el.input.disabled = true;
    el.send.disabled = true;
    el.stop.hidden = true;
    notice(message, true);
  }

  // ---- sending -------------------------------------------------------------

  el.form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var content = el.input.value.trim();
    if (!content || !sessionId || ended) {
      return;
    }
    el.send.disabled = true;
    var body = { content: content };
    if (userLocale) {
      body.locale = userLocale; // the assistant answers in the user's language
    }
    call("POST", sessionPath("/messages"), body).then(function (r) {
      if (r.status === 202) {
        el.input.value = "";
        notice("");
        return r.json().then(function (d) {
          if (d && typeof d.messageId === "string") {
            asked(d.messageId);
          }
        }, function () {});
      }
      if (r.status === 429) {
        var after = parseInt(r.headers.get("Retry-After") || "", 10);
        var when = after > 0 ? " " + t("tryIn", { n: after }) : "";
        // The error code says which limit: this session's pace, or the
        // answers running for the whole organisation. The message is kept.
        return r.json().then(function (b) { return b && b.code; }, function () { return ""; }).then(function (code) {
          notice(code === "too_many_replies"
            ? t("busy") + when
            : code === "model_budget_exhausted"
              ? t("budget")
              : code === "storage_quota_exceeded"
                ? t("storage")
                : (after > 0 ? t("slowIn", { n: after }) : t("slow")), true);
        });
      }
      if (r.status === 401) {
        var e = unauthorized();
        endSession(e.message, e.reason);
        return;
      }
      notice(t("sendFailed", { status: r.status }), true);
    }).catch(function () {
      notice(t("sendNetwork"), true);
    }).then(function () {
      if (!ended) {
        el.send.disabled = false;
        el.input.focus();
      }
    });
  });
})();
