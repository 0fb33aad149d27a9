import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import ts from "typescript";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import { compiledRoot } from "./environment.js";

/** The bare Connect-ES server of `floor-server.ts`, running as a child process. */
export interface FloorServer {
  readonly pid: number;
  /** Where SagaService is served. */
  readonly url: string;
  /** Where GET /metrics reports the open WatchSaga streams. */
  readonly metricsUrl: string;
  /** SIGTERM, then SIGKILL after 5 s; never throws. */
  stop(): Promise<void>;
}

const LISTENING = /^floor listening on (http:\/\/\S+) \(metrics (http:\/\/\S+)\)$/m;

const SOURCE = "test/bench/floor-server.ts";

/**
 * Starts the floor server and waits until it listens: compiled, as the replicas run `dist/` by
 * default, or with `fromSource` through tsx, as they do with `--source`; tsx's loader alone costs
 * a process CPU, so both sides of the comparison must run the same way.
 */
export async function startFloorServer(nodeArgs: string[], fromSource: boolean): Promise<FloorServer> {
  const entry = fromSource ? ["--import", "tsx", SOURCE] : [await compileBenchScript(SOURCE)];
  const child = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill); // a crashing bench must not leave it behind
  const stop = async () => {
    child.kill("SIGTERM");
    const timer = setTimeout(kill, 5_000);
    await exited;
    clearTimeout(timer);
    process.off("exit", kill);
  };
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err = (err + chunk).slice(-8_000)));
  try {
    const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
      const fail = (message: string) => () => {
        clearTimeout(timer);
        reject(new Error(message));
      };
      const timer = setTimeout(fail("the floor server did not listen within 30 s"), 30_000);
      void exited.then(fail("the floor server exited before it listened"));
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        const m = LISTENING.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
    return { pid: child.pid!, url: match[1]!, metricsUrl: match[2]!, stop };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- stderr ---\n${err}`);
  }
}

/**
 * Transpiles a bench child script (e.g. the floor server) into `test/bench/` of the bench's build
 * (see `buildServer`), beside its `src/`, where its imports of `../../src/…` resolve to the
 * compiled server code.
 */
export async function compileBenchScript(file: string): Promise<string> {
  const source = await readFile(path.join(PROJECT_ROOT, file), "utf8");
  const { outputText } = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
  });
  const out = path.join(compiledRoot(), file.replace(/\.ts$/, ".js"));
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, outputText);
  return out;
}
