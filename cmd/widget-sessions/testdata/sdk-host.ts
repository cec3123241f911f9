// A TypeScript host page, as a customer writes it against /sdk.d.ts.
// TestBrowserSDKTypes compiles it with --strict: the right uses must
// compile, and each line marked @ts-expect-error must be refused.

declare const session: { sessionToken: string; widgetUrl: string };

const widget: CauseFlowWidget.Widget = CauseFlowWidget.mount({
  element: document.getElementById("causeflow")!,
  widgetUrl: session.widgetUrl,
  sessionToken: session.sessionToken,
  getSessionToken: async (currentToken: string): Promise<string> => {
    const r = await fetch("/api/causeflow-session", { method: "POST", body: currentToken });
    return (await r.json()).sessionToken as string;
  },
});
const unsubscribe: () => void = widget.on("ready", ({ sessionId, expiresAt }) => console.log(sessionId.length, expiresAt.length));
widget.on("error", (e) => console.warn(e.code, e.message));
widget.on("sessionRevoked", (e) => console.log(e.sessionId));
widget.on("closed", () => unsubscribe());
const frame: HTMLIFrameElement = widget.iframe;
widget.unmount();

// @ts-expect-error: no such event
widget.on("sessionRenewed", () => {});
// @ts-expect-error: ready's details have no code
widget.on("ready", (e) => e.code);
// @ts-expect-error: sessionToken is required
CauseFlowWidget.mount({ element: frame, widgetUrl: "https://widget.example/embed" });
// @ts-expect-error: getSessionToken returns a token, not a session
CauseFlowWidget.mount({ element: frame, widgetUrl: "x", sessionToken: "t", getSessionToken: () => ({ sessionToken: "t" }) });

// The theme and the language.
const themed = CauseFlowWidget.mount({
  element: frame, widgetUrl: "https://widget.example/embed", sessionToken: "t",
  theme: { scheme: "dark", accent: "#ffd24a", radius: 0, font: '"Inter", sans-serif' },
  locale: "ar",
});
themed.setSessionToken("another");
// @ts-expect-error: a scheme is light, dark or auto
CauseFlowWidget.mount({ element: frame, widgetUrl: "x", sessionToken: "t", theme: { scheme: "sepia" } });
// @ts-expect-error: a radius is a number of pixels
CauseFlowWidget.mount({ element: frame, widgetUrl: "x", sessionToken: "t", theme: { radius: "8px" } });
// @ts-expect-error: no such theme property
CauseFlowWidget.mount({ element: frame, widgetUrl: "x", sessionToken: "t", theme: { colour: "#000000" } });
// @ts-expect-error: a locale is a tag
CauseFlowWidget.mount({ element: frame, widgetUrl: "x", sessionToken: "t", locale: ["de"] });
// @ts-expect-error: setSessionToken takes a token
themed.setSessionToken({ sessionToken: "t" });
