/**
 * The YAML library, behind a module of ours that the lock code imports on demand: a no-op build
 * never loads it, and the bundler keeps named imports from this CommonJS package intact.
 */
export { parse, stringify } from "yaml";
