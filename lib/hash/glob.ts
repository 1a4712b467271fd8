/** fast-glob, loaded on demand (only experiments that declare `inputs:` need it). */
import fg from "fast-glob";

export const glob = fg;
