import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus } from "../../src/client/index.js";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import { runCommand } from "../helpers/run-command.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const TOUR_HEADING = "## A five-minute tour with the `sagad` CLI";

/** A command of the tour as the README writes it, and the exit code its comment promises. */
interface TourCommand {
  line: string;
  expectedCode: number;
}

/** What one command of the run printed and how it exited. */
interface TourStep extends TourCommand {
  code: number;
  stdout: string;
  stderr: string;
}

/** The tour's shell block, one command per line; `# … exit code N` on a line promises N (else 0). */
function tourCommands(readme: string): TourCommand[] {
  const section = readme.slice(readme.indexOf(TOUR_HEADING));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`README: no sh block under "${TOUR_HEADING}"`);
  return block[1]!
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"))
    .map((line) => ({ line, expectedCode: Number(/#.*exit code (\d+)\s*$/.exec(line)?.[1] ?? 0) }));
}

/**
 * Runs the commands in one bash, as a reader pasting them would, with a marker before and after
 * each (on both streams) so every command's output and exit code can be told apart.
 */
async function runTour(commands: TourCommand[], env: NodeJS.ProcessEnv): Promise<TourStep[]> {
  const script = commands
    .map((c, i) => `echo "@@begin ${i}"; echo "@@begin ${i}" >&2\n${c.line}\necho "@@end ${i} $?"; echo "@@end ${i}" >&2`)
    .join("\n");
  const result = await runCommand("bash", ["-c", script], { cwd: PROJECT_ROOT, env, timeoutMs: 240_000 });
  expect(result.code, result.stderr).toBe(0);
  const pieces = (text: string) => [...text.matchAll(/@@begin (\d+)\n([\s\S]*?)@@end \1( \d+)?\n/g)];
  const outs = pieces(result.stdout);
  const errs = new Map(pieces(result.stderr).map((m) => [Number(m[1]), m[2]!]));
  expect(outs.map((m) => Number(m[1]))).toEqual(commands.map((_, i) => i));
  return outs.map((m, i) => ({ ...commands[i]!, code: Number(m[3]), stdout: m[2]!, stderr: errs.get(i) ?? "" }));
}

/**
 * The README's CLI tour, run as it is written (only SAGAD_URL and DATABASE_URL point at a test
 * server instead of `npm start` on port 8080), so the tour cannot drift from what the CLI does.
 */
describe("the README's CLI tour", () => {
  let srv: TestServer;
  let steps: TourStep[];
  const find = (start: string) => {
    const step = steps.find((s) => s.line.startsWith(start));
    if (!step) throw new Error(`the tour has no command starting with ${start}`);
    return step;
  };

  beforeAll(async () => {
    srv = await startTestServer();
    const env: NodeJS.ProcessEnv = { ...process.env, SAGAD_URL: srv.server.url, DATABASE_URL: srv.db.url };
    delete env.SAGAD_TOKEN;
    delete env.NO_COLOR;
    steps = await runTour(tourCommands(await readFile(new URL("../../README.md", import.meta.url), "utf8")), env);
  }, 300_000);
  afterAll(() => srv?.close());

  it("exits as each command's comment says, and prints no error where it exits 0", () => {
    expect(steps.length).toBeGreaterThanOrEqual(10);
    for (const step of steps) {
      expect({ line: step.line, code: step.code }, step.stderr).toEqual({ line: step.line, code: step.expectedCode });
      if (step.expectedCode === 0) expect(step.stderr, step.line).not.toMatch(/sagad: [A-Z_]+:/);
    }
    expect(steps.filter((s) => s.expectedCode === 10)).toHaveLength(1);
  });

  it("registers the three examples and lists them", () => {
    const register = find("sagad def register");
    for (const name of ["order-checkout", "provision-environment", "customer-onboarding"]) {
      expect(register.stdout).toMatch(new RegExp(`${name}\\s+1\\s+registered`));
      expect(find("sagad def list").stdout).toContain(name);
    }
    const render = find("sagad def render").stdout;
    expect(render).toContain("R-A-1001");
    expect(render).toMatch(/amount_cents\s+1999/);
  });

  it("watches the checkout fail at the charge, then complete after the skip", async () => {
    const [firstWatch, secondWatch] = steps.filter((s) => s.line.startsWith('sagad saga watch "$ID"'));
    expect(firstWatch!.stdout).toMatch(/charge\s+FAILED\s+attempt 3/);
    expect(firstWatch!.stdout).not.toContain("ship ");
    expect(secondWatch!.stdout).toMatch(/ship\s+COMPLETED/);
    expect(find('sagad saga get "$ID"').stdout).toMatch(/Failing:\s+charge/);

    const { sagas } = await srv.client().listSagas({ definitionName: "order-checkout" });
    expect(sagas).toHaveLength(1);
    const { saga } = await srv.client().getSaga({ id: sagas[0]!.id });
    expect(saga!.status).toBe(SagaStatus.COMPLETED);
    const charge = saga!.steps.find((s) => s.name === "charge")!;
    expect(charge.status).toBe(StepStatus.SKIPPED);
    expect(charge.output).toEqual({ receipt: "by-phone-0042" });
  });

  it("shows the skip in the history with the token's name and the reason", async () => {
    const events = find('sagad saga events "$ID"').stdout;
    expect(events).toMatch(/charge\s+SKIPPED.*by tour-\d+.*charged by phone, ticket 4711/);
    const { sagas } = await srv.client().listSagas({ definitionName: "order-checkout" });
    const history = [];
    for await (const msg of srv.client().watchSaga({ id: sagas[0]!.id, afterSequence: 0n })) {
      if (msg.kind.case === "event") history.push(msg.kind.value);
    }
    const skipped = history.find((e) => e.type === EventType.STEP_SKIPPED)!;
    expect(skipped).toMatchObject({ step: "charge", reason: "charged by phone, ticket 4711", tokenName: expect.stringMatching(/^tour-\d+$/) });
  });

  it("runs the fan-out to COMPLETED under --watch and lists both sagas", async () => {
    expect(find("sagad saga create --def provision-environment").stdout).toMatch(/register\s+COMPLETED/);
    const list = find("sagad saga list").stdout;
    expect(list).toMatch(/order-checkout\s+COMPLETED/);
    expect(list).toMatch(/provision-environment\s+COMPLETED/);
  });
});
