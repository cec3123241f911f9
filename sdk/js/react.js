// <CauseFlowWidget>: the CauseFlow widget as a React component (React 17 or
// later).
//
//   import { CauseFlowWidget } from "@causeflow/widget/react";
//
//   <CauseFlowWidget
//     widgetUrl={session.widgetUrl}
//     sessionToken={session.sessionToken}
//     getSessionToken={renew}             // optional: renews before expiry
//     theme={{ scheme: "dark", accent: "#1f5fbf" }}
//     locale="de"
//     onReady={(d) => ...} onSessionRevoked={(d) => ...} onError={(e) => ...}
//     style={{ height: 560 }}
//   />
//
// The widget is mounted once per widgetUrl, theme and locale; a new
// sessionToken is handed to the mounted widget, which switches without
// reloading. The callbacks are always the latest props'. Rendering on a
// server is safe: the widget mounts in the browser, in an effect.
import { createElement, useEffect, useRef } from "react";
import { mount } from "./index.js";

// HANDLERS maps the widget's events to the component's props.
var HANDLERS = { ready: "onReady", sessionExpired: "onSessionExpired", sessionRevoked: "onSessionRevoked", error: "onError" };

export function CauseFlowWidget(props) {
  var element = useRef(null);
  var widget = useRef(null);
  var latest = useRef(props);
  latest.current = props;
  var theme = JSON.stringify(props.theme === undefined ? null : props.theme);
  var renews = typeof props.getSessionToken === "function";

  useEffect(function () {
    var p = latest.current;
    var w = mount({
      element: element.current,
      widgetUrl: p.widgetUrl,
      sessionToken: p.sessionToken,
      getSessionToken: renews ? function (current) { return latest.current.getSessionToken(current); } : undefined,
      theme: p.theme,
      locale: p.locale
    });
    widget.current = w;
    var offs = Object.keys(HANDLERS).map(function (event) {
      return w.on(event, function (detail) {
        var fn = latest.current[HANDLERS[event]];
        if (typeof fn === "function") {
          fn(detail);
        }
      });
    });
    return function () {
      offs.forEach(function (off) { off(); });
      widget.current = null;
      w.unmount();
    };
  }, [props.widgetUrl, theme, props.locale, renews]);

  useEffect(function () {
    if (widget.current) {
      widget.current.setSessionToken(props.sessionToken);
    }
  }, [props.sessionToken]);

  return createElement("div", { ref: element, className: props.className, style: props.style });
}
