import { readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { digestFile, digestValue, type Digest } from "../hash/digest.js";
import type { StatCache } from "../hash/stat-cache.js";

/** A package folder as Node would load it. */
interface Installed {
  /** The folder's real path (a linked or pnpm package: where its files are). */
  folder: string;
  /** Its version as a key records it (see PackageVersions). */
  version: string;
}

/** What of a package.json decides what the package loads in turn. */
interface Manifest {
  version: string;
  /** `dependencies`: a missing one is recorded as unresolved. */
  required: string[];
  /** `optionalDependencies` and `peerDependencies`: recorded only when installed. */
  optional: string[];
  /** Whether it declares `os`, `cpu` or `libc`: a platform's build of a package (`@esbuild/linux-x64`). */
  platform: boolean;
}

/** How many characters of the dependencies' digest a recorded version keeps. */
const DEPS_DIGEST_LENGTH = 16;

/**
 * What a key records of an imported package: the version in the package.json Node would load,
 * and when the package depends on others, a digest of every package it can load in turn
 * (`7.9.0 deps:<digest>`): `npm update` changes a dependency's version without changing the
 * imported package's, and the code that runs with it. A package linked in from outside every
 * node_modules folder (an npm or yarn workspace, `npm link`, a `file:` dependency) is code of
 * the user's that changes without its version changing: it is recorded as
 * `<version>+linked.<digest of its files>`.
 */
export class PackageVersions {
  /** Package folder -> what the key records of it. */
  private readonly recorded = new Map<string, Promise<string>>();
  private readonly installed = new Map<string, Promise<Installed | undefined>>();
  private readonly manifests = new Map<string, Manifest | undefined>();
  private readonly linked = new Map<string, Promise<Digest>>();

  constructor(private readonly statCache: StatCache) {}

  /** For `name` imported from the folder `dir`: what the key records of it, as above, or "unresolved". */
  async of(dir: string, name: string): Promise<string> {
    const pkg = await this.resolve(dir, name);
    if (!pkg) return "unresolved";
    // Per package folder: every experiment folder importing it resolves to the same one.
    let recorded = this.recorded.get(pkg.folder);
    if (!recorded) {
      recorded = this.dependencies(pkg.folder).then((deps) => withDependencies(pkg.version, deps));
      this.recorded.set(pkg.folder, recorded);
    }
    return recorded;
  }

  /**
   * Every package `folder`'s package can load, directly or not, as sorted `name@version`
   * (`name@unresolved` for a dependency that is not installed). The same set from any
   * layout npm, yarn or pnpm makes of the same versions. A platform's build is left out: each
   * machine installs its own (esbuild's `@esbuild/darwin-arm64` on a Mac, `linux-x64` in CI),
   * and a lock written on one must match on the other; its version follows its parent's.
   */
  private async dependencies(folder: string): Promise<string[]> {
    const found = new Set<string>();
    const visited = new Set([folder]);
    const queue = [folder];
    while (queue.length > 0) {
      const from = queue.shift()!;
      const manifest = this.manifest(from);
      if (!manifest) continue;
      for (const [names, required] of [[manifest.required, true], [manifest.optional, false]] as const) {
        for (const name of names) {
          const dep = await this.resolve(from, name);
          if (!dep) {
            if (required) found.add(`${name}@unresolved`);
            continue;
          }
          if (this.manifest(dep.folder)?.platform) continue;
          found.add(`${name}@${dep.version}`);
          if (!visited.has(dep.folder)) {
            visited.add(dep.folder);
            queue.push(dep.folder);
          }
        }
      }
    }
    return [...found].sort();
  }

  /** The folder `name` loads from when required in `dir`: node_modules folders walked up as Node does. */
  private resolve(dir: string, name: string): Promise<Installed | undefined> {
    const memoKey = `${dir}\0${name}`;
    let pkg = this.installed.get(memoKey);
    if (!pkg) {
      pkg = this.find(dir, name);
      this.installed.set(memoKey, pkg);
    }
    return pkg;
  }

  private async find(dir: string, name: string): Promise<Installed | undefined> {
    for (let d = dir; ; d = dirname(d)) {
      // Node never looks in node_modules/node_modules.
      const manifest = basename(d) === "node_modules" ? undefined : this.manifest(join(d, "node_modules", name));
      if (manifest) {
        const real = realpathSync(join(d, "node_modules", name));
        if (real.split(sep).includes("node_modules")) return { folder: real, version: manifest.version };
        return { folder: real, version: `${manifest.version}+linked.${await this.filesDigest(real)}` };
      }
      if (dirname(d) === d) return undefined;
    }
  }

  /** The folder's package.json, read once; undefined when it has none that parses. */
  private manifest(folder: string): Manifest | undefined {
    if (this.manifests.has(folder)) return this.manifests.get(folder);
    let manifest: Manifest | undefined;
    try {
      const json = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
      const names = (field: unknown) => (field && typeof field === "object" ? Object.keys(field) : []);
      const required = names(json.dependencies);
      manifest = {
        version: String(json.version ?? "unknown"),
        required,
        optional: [...new Set([...names(json.optionalDependencies), ...names(json.peerDependencies)])].filter((n) => !required.includes(n)),
        platform: json.os !== undefined || json.cpu !== undefined || json.libc !== undefined,
      };
    } catch {
      manifest = undefined;
    }
    this.manifests.set(folder, manifest);
    return manifest;
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

/** A package's recorded version with its dependencies' digest, when it has any (see PackageVersions). */
function withDependencies(version: string, dependencies: readonly string[]): string {
  return dependencies.length === 0 ? version : `${version} deps:${digestValue(dependencies).slice(0, DEPS_DIGEST_LENGTH)}`;
}
