import type { ExperimentStatus } from "../api/status.js";
import type { Paint } from "./style.js";

type Style = Parameters<Paint>[0];

/** Marker and colour of each status, shared by list, show and graph so that they read alike. */
const LOOK: Record<ExperimentStatus, { mark: string; style: Style }> = {
  fresh: { mark: "✓", style: "green" },
  stale: { mark: "●", style: "yellow" },
  blocked: { mark: "◌", style: "yellow" },
  failed: { mark: "✗", style: "red" },
  "never built": { mark: "○", style: "dim" },
};

/** The status word, coloured on a terminal. */
export function statusWord(status: ExperimentStatus, paint: Paint): string {
  return paint(LOOK[status].style, status);
}

/** The one-character marker, coloured on a terminal. */
export function statusMark(status: ExperimentStatus, paint: Paint): string {
  return paint(LOOK[status].style, LOOK[status].mark);
}
