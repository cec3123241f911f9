// A customer's React app, bundled by esbuild against the npm package
// installed from its tarball (TestBrowserSDKPackage). window.cfConfig holds
// the session the host's backend minted; window.cfSetToken renders the
// component with another session token.
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { CauseFlowWidget } from "@causeflow/widget/react";

const config = window.cfConfig;
window.cfEvents = [];

function App() {
  const [token, setToken] = useState(config.sessionToken);
  window.cfSetToken = setToken;
  return (
    <main>
      <h1>Acme Ops</h1>
      <CauseFlowWidget
        widgetUrl={config.widgetUrl}
        sessionToken={token}
        theme={{ scheme: "light", accent: "#0b6e4f", radius: 16 }}
        locale="en"
        onReady={(d) => window.cfEvents.push("ready " + d.sessionId)}
        onError={(e) => window.cfEvents.push("error " + e.code)}
        onSessionRevoked={() => window.cfEvents.push("revoked")}
        style={{ width: 420, height: 560 }}
      />
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
