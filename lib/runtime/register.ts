/** Loaded with `--import` before the worker: installs the "crystallize" resolution hook. */
import { register } from "node:module";

register(new URL("./hooks.js", import.meta.url), {
  data: { apiUrl: new URL("./api.js", import.meta.url).href },
});
