/** What an experiment's remaining time is estimated from. */
export interface EtaInput {
  /** Expected duration of one unit in ms; undefined when nothing is known about it yet. */
  unitMs: number | undefined;
  /** Units neither running nor finished. */
  queued: number;
  /** How long each running unit has been running, in ms. */
  running: number[];
  /** Units of this experiment that can run at once (at least the running ones). */
  lanes: number;
}

/**
 * Milliseconds until the experiment's last unit ends, or undefined when unknown. The queued
 * units are placed, in order, on whichever lane frees up first: with 5 units on 4 lanes that is
 * two rounds, not 5/4 of one, and a running unit counts only for what it has left. A unit past
 * its estimate counts as ending now, so the figure never grows while nothing is learned.
 */
export function remainingMs({ unitMs, queued, running, lanes }: EtaInput): number | undefined {
  if (unitMs === undefined || !Number.isFinite(unitMs) || unitMs < 0) return undefined;
  const width = Math.max(1, Math.floor(lanes), running.length);
  const free = [...running.map((e) => Math.max(0, unitMs - e)), ...Array(width - running.length).fill(0)].sort((a, b) => a - b);
  // Every lane frees up within one unit of the others, so full rounds add unitMs to every lane
  // and the rest go to the lanes that free up first: the same as placing the units one by one.
  const rounds = Math.floor(queued / width);
  const ends = free.map((t, i) => t + (rounds + (i < queued % width ? 1 : 0)) * unitMs);
  return Math.max(...ends);
}

/**
 * The duration of one unit to plan with: the mean of this build's finished units when there
 * are any (the code may have changed since the last build), else the last build's mean.
 */
export function unitEstimate(history: number | undefined, observed: { count: number; totalMs: number }): number | undefined {
  return observed.count > 0 ? observed.totalMs / observed.count : history;
}

/** A running clock: tenths under 10 s, where they still show movement, then whole units. */
export function formatElapsed(ms: number): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  return hms(Math.floor(ms / 1000));
}

/** `~12s left`, `~2m 05s left`; empty when unknown, so the line just has no estimate. */
export function formatEta(ms: number | undefined): string {
  if (ms === undefined) return "";
  if (ms < 1000) return "<1s left";
  return `~${hms(Math.ceil(ms / 1000))} left`;
}

function hms(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}
