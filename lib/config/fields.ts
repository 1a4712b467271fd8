import { isScalar, isSeq, isPair, type Node, type Pair, type YAMLMap } from "yaml";
import { CrystallizeError, didYouMean } from "../errors/error.js";
import { describeNode, type YamlSource } from "./source.js";

/**
 * Reads typed fields out of one YAML document, collecting a located error for each problem
 * instead of stopping at the first: the base of a file's validator (see parseConfig).
 */
export class FieldReader {
  readonly errors: CrystallizeError[] = [];
  constructor(protected readonly src: YamlSource) {}

  protected fail(code: Parameters<YamlSource["error"]>[0], at: Node | Pair | null | undefined, message: string, hint?: string) {
    this.errors.push(this.src.error(code, at, message, { hint }));
  }

  /** The pairs of a mapping by key, reporting unknown keys with a suggestion. */
  protected pairs(map: YAMLMap, allowed: string[] | null, path: string): Map<string, Pair> {
    const out = new Map<string, Pair>();
    for (const item of map.items) {
      const keyNode = item.key as Node;
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key !== "string" && typeof key !== "number") {
        this.fail("CONFIG_TYPE", keyNode, `${path || "config"}: keys must be strings, got ${describeNode(keyNode)}`);
        continue;
      }
      const k = String(key);
      if (allowed && !allowed.includes(k)) {
        const guess = didYouMean(k, allowed);
        const where = path ? `in ${path}` : "at the top level";
        this.fail("CONFIG_UNKNOWN_KEY", item, `unknown key "${k}" ${where}`,
          guess ? `did you mean \`${guess}\`?` : `allowed keys: ${allowed.join(", ")}`);
        continue;
      }
      out.set(k, item);
    }
    return out;
  }

  protected string(pair: Pair | Node, path: string): string | undefined {
    const node = nodeOf(pair);
    if (isScalar(node) && typeof node.value === "string") return node.value;
    this.fail("CONFIG_TYPE", node, `${path}: expected a string, got ${describeNode(node)}`);
    return undefined;
  }

  protected integer(pair: Pair, path: string, min: number): number | undefined {
    const node = nodeOf(pair);
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      const hint = typeof value === "number" ? `use a whole number, e.g. ${Math.max(min, Math.round(value))}` : typeof value === "string" ? "write the number without quotes" : undefined;
      this.fail("CONFIG_TYPE", node, `${path}: expected an integer, got ${describeNode(node)}`, hint);
      return undefined;
    }
    if (value < min) {
      this.fail("CONFIG_VALUE", node, `${path}: must be at least ${min}, got ${value}`, path === "replicates" ? "use `replicates: 1` for a single run" : undefined);
      return undefined;
    }
    if (!Number.isSafeInteger(value)) {
      this.fail("CONFIG_VALUE", node, `${path}: ${value} is too large`);
      return undefined;
    }
    return value;
  }

  protected stringList(pair: Pair, path: string): string[] {
    const node = nodeOf(pair);
    if (!isSeq(node)) {
      this.fail("CONFIG_TYPE", node, `${path}: expected a list of strings, got ${describeNode(node)}`);
      return [];
    }
    const out: string[] = [];
    node.items.forEach((item, i) => {
      const s = this.string(item as Node, `${path}[${i}]`);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  protected plainValue(node: unknown): unknown {
    return node && typeof node === "object" && "toJSON" in node ? (node as { toJSON(): unknown }).toJSON() : node;
  }

}

export function nodeOf(pairOrNode: Pair | Node): Node {
  return (isPair(pairOrNode) ? pairOrNode.value : pairOrNode) as Node;
}

