import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { defaultConsoleDir } from "../../src/api/console-files.js";
import { PROJECT_ROOT } from "../helpers/replica-process.js";

const run = promisify(execFile);

/** One built file and its size gzipped as sagad serves it (level 9). */
export interface BuiltFile {
  name: string;
  bytes: number;
  gzipBytes: number;
}

/** What `npm run build:console` wrote to dist/console/assets. */
export interface BuiltAssets {
  js: BuiltFile[];
  css: BuiltFile[];
  jsBytes: number;
  jsGzipBytes: number;
  cssGzipBytes: number;
}

/**
 * Builds the console from the tree as it is (`npm run build:console`, what `npm ci` and
 * `npm run build` do), so the figures are this tree's and not a stale build's. Other work on the
 * machine may rebuild it too: {@link assetNames} before and after tells whether the files changed.
 * `extraArgs` go to `vite build` (e.g. another `--outDir`).
 */
export async function buildConsole(extraArgs: string[] = []): Promise<void> {
  await run(process.execPath, [path.join(PROJECT_ROOT, "node_modules", "vite", "bin", "vite.js"), "build", "--config", "src/console/vite.config.ts", ...extraArgs], { cwd: PROJECT_ROOT });
}

/** The hashed file names under dist/console/assets, sorted: they change with the content. */
export async function assetNames(dir = defaultConsoleDir()): Promise<string[]> {
  return (await readdir(path.join(dir, "assets"))).sort();
}

/**
 * Every built script and stylesheet, gzipped here with the level sagad uses: the wire size of a
 * page that fetched them all, to cross-check the sizes the browser reported.
 */
export async function builtAssets(dir = defaultConsoleDir()): Promise<BuiltAssets> {
  const files: BuiltFile[] = [];
  for (const name of await assetNames(dir)) {
    const body = await readFile(path.join(dir, "assets", name));
    files.push({ name, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length });
  }
  const js = files.filter((f) => f.name.endsWith(".js"));
  const css = files.filter((f) => f.name.endsWith(".css"));
  const sum = (list: BuiltFile[], key: "bytes" | "gzipBytes") => list.reduce((s, f) => s + f[key], 0);
  return { js, css, jsBytes: sum(js, "bytes"), jsGzipBytes: sum(js, "gzipBytes"), cssGzipBytes: sum(css, "gzipBytes") };
}
