/**
 * The engine's state folder at a workspace root: the stat cache, run logs, stamps, timings and
 * the build lock. Never committed; deleting it costs time, never a result. Its own module so
 * that the stamp check, bundled apart from the engine (lib/cli/fast.ts), names it too.
 */
export const STATE_DIR = ".crystallize";
