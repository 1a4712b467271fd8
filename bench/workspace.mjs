// Generates synthetic workspaces for the benchmarks. Deterministic: same arguments, same files.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** mulberry32 (the one experiments get as ctx.random): every run benchmarks the same graph. */
import { seededRandom as rng } from "../dist/lib/runtime/random.js";
export { rng };

function write(dir, rel, text) {
  mkdirSync(join(dir, rel, ".."), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

/**
 * `levels`: experiment names per level. Each experiment of level > 0 reads 1-3 experiments of
 * the level above (`parents` overrides that choice). Steps sleep `stepMs` and write a small
 * output derived from what they read.
 */
export function writeWorkspace(dir, levels, { stepMs = 0, seed = 1, parents, outputBytes = 0 } = {}) {
  const random = rng(seed);
  write(dir, "crystallize.yaml", "experiments: experiments\n");
  levels.forEach((names, level) => {
    for (const name of names) {
      let ups = [];
      if (level > 0) {
        const above = levels[level - 1];
        ups = parents?.(name, above) ?? [...new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => above[Math.floor(random() * above.length)]))];
      }
      const ds = ups.length ? `datasource: {${ups.map((u) => `${u}: ${u}#o`).join(", ")}}\n` : "";
      write(dir, `experiments/${name}/config.yaml`, `${ds}outputs: {o: {file_name: o.txt}}\nsteps: [work]\n`);
      const body = outputBytes
        ? `ctx.outputs.o.write(Buffer.alloc(${outputBytes}, ${name.length % 251}));`
        : // The output depends on what was read, so a changed root output reaches its whole cone.
          `let h = 7; for (const ch of ${JSON.stringify(name)} + JSON.stringify(data ?? {})) h = (h * 31 + ch.charCodeAt(0)) | 0;\n  ctx.outputs.o.write(String(h));`;
      const sleep = stepMs ? `await new Promise((r) => setTimeout(r, ${stepMs}));\n  ` : "";
      write(dir, `experiments/${name}/steps.ts`, `// ${name}\nexport const work = async (data: any, ctx: any) => {\n  ${sleep}${body}\n  return data;\n};\n`);
    }
  });
}

/** N experiments over 10 levels, each depending on 1-3 experiments of the level above. */
export function layeredLevels(n, depth = 10) {
  const levels = Array.from({ length: depth }, () => []);
  for (let i = 0; i < n; i++) levels[Math.min(depth - 1, Math.floor((i * depth) / n))].push(`e${String(i).padStart(4, "0")}`);
  return levels;
}
