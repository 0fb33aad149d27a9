import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { createTestDatabase } from "../helpers/database.js";
import { describeOutput, PROJECT_ROOT, startSagad } from "../helpers/replica-process.js";
import { runCommand, type CommandResult } from "../helpers/run-command.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestToken } from "../helpers/tokens.js";

const TSC = path.join(PROJECT_ROOT, "node_modules", ".bin", "tsc");
const SETUP_TIMEOUT_MS = 180_000;

/**
 * The published client, as a user gets it: `npm pack` (which runs the prepack build), install the
 * tarball into a fresh ESM project, type-check a consumer of `sagad/client` against the packed
 * declarations only, compile it, and run it against a live server; and the installed `sagad`
 * command serves the web console from the files the tarball carries.
 */
describe("the packed sagad/client package", () => {
  let tmp: string;
  let consumerDir: string;
  let server: TestServer | undefined;

  /**
   * The consumer's compiler settings: strict NodeNext, no ambient @types (so nothing but the
   * installed package's own declarations is seen), no skipLibCheck (the packed .d.ts files are
   * checked too). DOM supplies the fetch-era globals (Headers, AbortSignal) that Connect's
   * declarations name, as it would in any browser or Node project.
   */
  const tsconfig = (files: string[], emit: boolean) => ({
    compilerOptions: {
      module: "NodeNext",
      moduleResolution: "NodeNext",
      target: "ES2022",
      lib: ["ES2022", "DOM"],
      strict: true,
      types: [],
      typeRoots: ["./node_modules/@types"],
      ...(emit ? { outDir: "out", noEmit: false } : { noEmit: true }),
    },
    files,
  });

  const typeCheck = async (file: string): Promise<CommandResult> => {
    const config = `tsconfig.${path.basename(file, ".ts")}.json`;
    await writeFile(path.join(consumerDir, config), JSON.stringify(tsconfig([file], false), null, 2));
    return runCommand(TSC, ["-p", config, "--listFiles"], { cwd: consumerDir, timeoutMs: 60_000 });
  };

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "sagad-client-package-"));
    server = await startTestServer();

    const packDir = path.join(tmp, "pack");
    await mkdir(packDir);
    const pack = await runCommand("npm", ["pack", "--pack-destination", packDir], { cwd: PROJECT_ROOT, timeoutMs: 120_000 });
    expect(pack.code, `npm pack failed:\n${pack.stdout}\n${pack.stderr}`).toBe(0);
    const tarballs = (await readdir(packDir)).filter((f) => f.endsWith(".tgz"));
    expect(tarballs).toEqual(["sagad-0.1.0.tgz"]);

    consumerDir = path.join(tmp, "consumer");
    await mkdir(consumerDir);
    await writeFile(
      path.join(consumerDir, "package.json"),
      JSON.stringify({ name: "sagad-consumer", version: "1.0.0", private: true, type: "module" }, null, 2),
    );
    const install = await runCommand(
      "npm",
      ["install", path.join(packDir, tarballs[0]!), "--no-audit", "--no-fund", "--prefer-offline"],
      { cwd: consumerDir, timeoutMs: 150_000 },
    );
    expect(install.code, `npm install failed:\n${install.stdout}\n${install.stderr}`).toBe(0);

    await writeFile(
      path.join(consumerDir, "consumer.ts"),
      `import { createSagaClient, SagaStatus, type Saga } from "sagad/client";

const client = createSagaClient(${JSON.stringify(server.server.url)}, { token: ${JSON.stringify(server.adminToken)} });
const created = await client.createSaga({
  name: "packaged-consumer",
  steps: [
    { name: "first", action: "noop" },
    { name: "second", action: "sleep", dependsOn: ["first"], config: { duration: "50ms" } },
  ],
});
const id: string = created.saga!.id;
// WatchSaga ends by itself once the saga rests.
for await (const _ of client.watchSaga({ id }, { signal: AbortSignal.timeout(15_000) })) {
  // drain
}
const saga: Saga = (await client.getSaga({ id })).saga!;
const completed: boolean = saga.status === SagaStatus.COMPLETED;
console.log(JSON.stringify({ id, status: SagaStatus[saga.status], completed, steps: saga.steps.map((s) => s.name) }));
`,
    );
    await writeFile(
      path.join(consumerDir, "worker-consumer.ts"),
      `import { createSagaClient, SagaStatus } from "sagad/client";
import { ActionError, createWorker } from "sagad/worker";

const url = ${JSON.stringify(server.server.url)};
const worker = createWorker({
  url,
  token: ${JSON.stringify(server.adminToken)},
  actions: {
    "packaged-greet": async (ctx) => {
      if (typeof ctx.config.who !== "string") throw new ActionError("who is missing", { kind: "BAD_INPUT", retryable: false });
      return { greeting: "hello " + ctx.config.who };
    },
  },
});
await worker.start();
const client = createSagaClient(url, { token: ${JSON.stringify(server.adminToken)} });
const created = await client.createSaga({ name: "packaged-worker", steps: [{ name: "greet", action: "packaged-greet", config: { who: "package" } }] });
for await (const _ of client.watchSaga({ id: created.saga!.id }, { signal: AbortSignal.timeout(15_000) })) {
  // drain
}
const saga = (await client.getSaga({ id: created.saga!.id })).saga!;
await worker.stop();
console.log(JSON.stringify({ status: SagaStatus[saga.status], output: saga.steps[0]!.output }));
`,
    );
    await writeFile(
      path.join(consumerDir, "wrong.ts"),
      `import { createSagaClient } from "sagad/client";

const client = createSagaClient("http://127.0.0.1:1");
await client.createSaga({ nam: "x" });
`,
    );
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await server?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("type-checks a strict NodeNext consumer against the installed package's declarations", async () => {
    const result = await typeCheck("consumer.ts");
    expect(result.code, `tsc:\n${result.stdout}\n${result.stderr}`).toBe(0);
    const files = result.stdout.split("\n").map((f) => path.resolve(consumerDir, f.trim()));
    // Resolved through the temp project's node_modules, from the built declarations, never the sources.
    expect(files).toContain(path.join(consumerDir, "node_modules", "sagad", "dist", "src", "client", "index.d.ts"));
    expect(files.filter((f) => f.startsWith(path.join(PROJECT_ROOT, "src")))).toEqual([]);
  }, 90_000);

  it("fails type-checking for a wrong consumer, so the check above is real", async () => {
    const result = await typeCheck("wrong.ts");
    expect(result.code).not.toBe(0);
    expect(result.stdout).toMatch(/wrong\.ts\(4,\d+\): error TS\d+: .*'nam'/);
  }, 90_000);

  it("type-checks, compiles and runs a worker built on sagad/worker against a live server", async () => {
    const checked = await typeCheck("worker-consumer.ts");
    expect(checked.code, `tsc:\n${checked.stdout}\n${checked.stderr}`).toBe(0);
    expect(checked.stdout).toContain(path.join("node_modules", "sagad", "dist", "src", "sdk", "index.d.ts"));
    await writeFile(path.join(consumerDir, "tsconfig.worker.json"), JSON.stringify(tsconfig(["worker-consumer.ts"], true), null, 2));
    const build = await runCommand(TSC, ["-p", "tsconfig.worker.json"], { cwd: consumerDir, timeoutMs: 60_000 });
    expect(build.code, `tsc:\n${build.stdout}\n${build.stderr}`).toBe(0);
    const run = await runCommand(process.execPath, [path.join("out", "worker-consumer.js")], { cwd: consumerDir, timeoutMs: 30_000 });
    expect(run.code, `worker consumer:\n${run.stdout}\n${run.stderr}`).toBe(0);
    expect(JSON.parse(run.stdout.trim().split("\n").pop()!)).toEqual({ status: "COMPLETED", output: { greeting: "hello package" } });
  }, 90_000);

  it("compiles and runs the consumer against a live server", async () => {
    await writeFile(path.join(consumerDir, "tsconfig.build.json"), JSON.stringify(tsconfig(["consumer.ts"], true), null, 2));
    const build = await runCommand(TSC, ["-p", "tsconfig.build.json"], { cwd: consumerDir, timeoutMs: 60_000 });
    expect(build.code, `tsc:\n${build.stdout}\n${build.stderr}`).toBe(0);

    const run = await runCommand(process.execPath, [path.join("out", "consumer.js")], { cwd: consumerDir, timeoutMs: 30_000 });
    expect(run.code, `consumer:\n${run.stdout}\n${run.stderr}`).toBe(0);
    const printed = JSON.parse(run.stdout.trim()) as { id: string; status: string; completed: boolean; steps: string[] };
    expect(printed).toEqual({ id: expect.any(String), status: "COMPLETED", completed: true, steps: ["first", "second"] });

    // The saga the packaged client created is really there.
    const saga = (await server!.client().getSaga({ id: printed.id })).saga!;
    expect(saga.name).toBe("packaged-consumer");
  }, 90_000);

  it("the installed sagad command serves the web console from the package's own files", async () => {
    const db = await createTestDatabase();
    const sagad = await startSagad({
      compiledEntry: path.join("node_modules", ".bin", "sagad"),
      cwd: consumerDir,
      env: { DATABASE_URL: db.url, SAGAD_PORT: "0" },
    });
    const browser = await launchChromium();
    try {
      expect(sagad.stdout(), describeOutput(sagad)).toContain(`web console: ${sagad.url}/console/`);
      const index = await fetch(`${sagad.url}/`);
      expect(index.url).toBe(`${sagad.url}/console/`);
      expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
      const html = await index.text();
      const script = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
      expect(script, html).toBeDefined();
      const asset = await fetch(new URL(script!, index.url));
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toMatch(/javascript/);

      // The packaged bundle runs: a real browser signs in with a token and sees who it is.
      const { token } = await createTestToken(db.pool, ["sagas:read"], "packaged-console");
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await page.goto(`${sagad.url}/console/`);
      await page.locator('input[name="token"]').fill(token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator('[data-testid="who"]').waitFor({ timeout: 15_000 });
      expect(await page.locator('[data-testid="who"]').textContent()).toContain("packaged-console");
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await sagad.stop(10_000);
      await db.drop();
    }
  }, 90_000);
});
