// CauseFlow widget SDK. Load it from the widget's server and mount the widget
// with the session token your backend got from POST /v1/widget/sessions:
//
//   <script src="https://widget.causeflow.ai/sdk.js"></script>
//   var widget = CauseFlowWidget.mount({ element: document.getElementById("help"),
//     sessionToken: session.sessionToken, widgetUrl: session.widgetUrl });
//   ...
//   widget.unmount();
//
// The token never goes into a URL: the iframe announces itself with a
// causeflow:ready message, and the token is posted to that frame, at the
// widget's exact origin, and nowhere else.
(function (global) {
  "use strict";

  function mount(opts) {
    if (!opts || !opts.element || typeof opts.element.appendChild !== "function") {
      throw new TypeError("CauseFlowWidget.mount: element must be a DOM element");
    }
    if (typeof opts.sessionToken !== "string" || opts.sessionToken === "") {
      throw new TypeError("CauseFlowWidget.mount: sessionToken is required");
    }
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

    var iframe = global.document.createElement("iframe");
    iframe.title = "CauseFlow assistant";
    iframe.referrerPolicy = "no-referrer";
    iframe.setAttribute("allow", "");
    iframe.style.cssText = "width:100%;height:100%;min-height:420px;border:0;border-radius:12px;" +
      "box-shadow:0 2px 12px rgba(20,30,50,.15);background:#f6f7f9;display:block;";

    function onMessage(ev) {
      // Only the frame we created, served from the widget's origin.
      if (ev.source !== iframe.contentWindow || ev.origin !== origin) {
        return;
      }
      if (ev.data && ev.data.type === "causeflow:ready") {
        iframe.contentWindow.postMessage({ type: "causeflow:session", sessionToken: token }, origin);
      }
    }
    // Listening before the frame exists: its ready message cannot be missed.
    global.addEventListener("message", onMessage);
    iframe.src = url.href;
    opts.element.appendChild(iframe);

    var mounted = true;
    return {
      iframe: iframe,
      unmount: function () {
        if (!mounted) {
          return;
        }
        mounted = false;
        global.removeEventListener("message", onMessage);
        if (iframe.parentNode) {
          iframe.parentNode.removeChild(iframe);
        }
        token = null;
      }
    };
  }

  global.CauseFlowWidget = Object.freeze({ mount: mount });
})(window);
