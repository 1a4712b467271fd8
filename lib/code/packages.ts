import { readFileSync, realpathSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { digestFile, digestValue, type Digest } from "../hash/digest.js";
import type { StatCache } from "../hash/stat-cache.js";

/**
 * What a key records of an imported package: the version in the package.json Node would load.
 * A package linked in from outside every node_modules folder (an npm or yarn workspace,
 * `npm link`, a `file:` dependency) is code of the user's that changes without its version
 * changing: it is recorded as `<version>+linked.<digest of its files>`.
 */
export class PackageVersions {
  private readonly versions = new Map<string, Promise<string>>();
  private readonly linked = new Map<string, Promise<Digest>>();

  constructor(private readonly statCache: StatCache) {}

  /** For `name` imported from the folder `dir`: its version as above, or "unresolved". */
  of(dir: string, name: string): Promise<string> {
    const memoKey = `${dir}\0${name}`;
    let version = this.versions.get(memoKey);
    if (!version) {
      version = this.find(dir, name);
      this.versions.set(memoKey, version);
    }
    return version;
  }

  /** Walks up node_modules folders the way Node does. */
  private async find(dir: string, name: string): Promise<string> {
    for (let d = dir; ; d = dirname(d)) {
      const folder = join(d, "node_modules", name);
      let version: string;
      try {
        version = String(JSON.parse(readFileSync(join(folder, "package.json"), "utf8")).version ?? "unknown");
      } catch {
        if (dirname(d) === d) return "unresolved";
        continue;
      }
      const real = realpathSync(folder);
      return real.split(sep).includes("node_modules") ? version : `${version}+linked.${await this.filesDigest(real)}`;
    }
  }

  /** Every file of a linked package but its node_modules and dot-folders, by content. */
  private filesDigest(dir: string): Promise<Digest> {
    let digest = this.linked.get(dir);
    if (!digest) {
      digest = (async () => {
        const { glob } = await import("../hash/glob.js");
        const files = (await glob("**/*", { cwd: dir, onlyFiles: true, dot: false, ignore: ["**/node_modules/**"] })).sort();
        const contents: Record<string, Digest> = {};
        for (const file of files) contents[file] = await this.statCache.get(join(dir, file), "digest", () => digestFile(join(dir, file)));
        return digestValue(contents);
      })();
      this.linked.set(dir, digest);
    }
    return digest;
  }
}
