import type { CSSProperties, ReactElement } from "react";
import type { Events, MountOptions } from "./index.js";

/** The props of <CauseFlowWidget>: mount's options, but the element, and the events as callbacks. */
export interface CauseFlowWidgetProps extends Omit<MountOptions, "element"> {
  /** The first session loaded: the widget is usable. */
  onReady?: (detail: Events["ready"]) => void;
  /** The session expired; with getSessionToken, a renewal follows. */
  onSessionExpired?: (detail: Events["sessionExpired"]) => void;
  /** The session was revoked: the widget stops, and is not renewed. */
  onSessionRevoked?: (detail: Events["sessionRevoked"]) => void;
  /** Something failed; see Events["error"]. */
  onError?: (detail: Events["error"]) => void;
  /** The class of the element the widget fills. */
  className?: string;
  /** The style of the element the widget fills: give it a height. */
  style?: CSSProperties;
}

/**
 * The CauseFlow widget. Mounted once per widgetUrl, theme and locale; a new
 * sessionToken is handed to the mounted widget, which switches without
 * reloading.
 */
export declare function CauseFlowWidget(props: CauseFlowWidgetProps): ReactElement;
