// A customer's frontend, in TypeScript, against the npm package
// (@causeflow/widget, installed from the tarball npm pack writes).
// TestBrowserSDKPackage compiles it with --strict: the right uses must
// compile, and each line marked @ts-expect-error must be refused.
import { mount, type MountOptions, type Widget } from "@causeflow/widget";
import { CauseFlowWidget, type CauseFlowWidgetProps } from "@causeflow/widget/react";

declare const session: { sessionToken: string; widgetUrl: string };

const options: MountOptions = {
  element: document.getElementById("help")!,
  widgetUrl: session.widgetUrl,
  sessionToken: session.sessionToken,
  theme: { scheme: "auto", accent: "#1f5fbf", radius: 8, font: "Inter, sans-serif" },
  locale: "de",
};
const widget: Widget = mount(options);
widget.on("error", (e) => console.warn(e.code, e.message));
widget.setSessionToken("next");
widget.unmount();

export function Help(props: { session: typeof session; renew: () => Promise<string> }) {
  return (
    <CauseFlowWidget
      widgetUrl={props.session.widgetUrl}
      sessionToken={props.session.sessionToken}
      getSessionToken={props.renew}
      theme={{ scheme: "dark" }}
      locale="ar"
      onReady={({ sessionId, expiresAt }) => console.log(sessionId, expiresAt)}
      onSessionRevoked={(d) => console.log(d.sessionId)}
      onError={(e) => console.warn(e.code)}
      className="help"
      style={{ height: 560 }}
    />
  );
}

const props: CauseFlowWidgetProps = { widgetUrl: "x", sessionToken: "t" };
console.log(props);

// @ts-expect-error: the component takes no element: it makes its own
const withElement: CauseFlowWidgetProps = { widgetUrl: "x", sessionToken: "t", element: document.body };
// @ts-expect-error: sessionToken is required
const noToken = <CauseFlowWidget widgetUrl="x" />;
// @ts-expect-error: onReady's details have no code
const badReady = <CauseFlowWidget widgetUrl="x" sessionToken="t" onReady={(d) => d.code} />;
// @ts-expect-error: a scheme is light, dark or auto
mount({ ...options, theme: { scheme: "sepia" } });
console.log(withElement, noToken, badReady);
