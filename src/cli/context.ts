import pc from "picocolors";
import {
  createDefinitionClient,
  createSagaClient,
  createWorkerClient,
  type DefinitionClient,
  type SagaClient,
  type WorkerClient,
} from "../client/index.js";
import { CliError, EXIT } from "./exit-codes.js";
import type { Locator } from "./report-error.js";

export type OutputFormat = "table" | "json" | "jsonl";
export type Protocol = "connect" | "grpc" | "grpc-web";

/** The global flags, as commander hands them over. */
export interface GlobalOptions {
  readonly url: string;
  readonly token?: string;
  readonly protocol: Protocol;
  readonly output: OutputFormat;
  readonly color: boolean;
}

/** Where a command writes and what it may ask; main.ts passes the process's streams. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/**
 * What every command gets: clients made lazily (so `--help` and local checks never need a token),
 * the output format, and colour only when stdout is a terminal and nobody said `--no-color`.
 */
export class CliContext {
  private sagaClient?: SagaClient;
  private definitionClient?: DefinitionClient;
  private workerClient?: WorkerClient;
  /** Where the request now being made came from, so an error can name file, line and column. */
  locator?: Locator;
  readonly colors: ReturnType<typeof pc.createColors>;

  constructor(
    readonly options: GlobalOptions,
    readonly io: CliIo,
  ) {
    const colorWanted = options.color && io.env.NO_COLOR === undefined && io.stdout.isTTY === true;
    this.colors = pc.createColors(colorWanted);
  }

  get output(): OutputFormat {
    return this.options.output;
  }

  /**
   * True when stdout is a terminal with a size: live redraws and spinners only make sense there
   * (a pseudo-terminal nobody sized has 0 rows, and a redraw into 0 rows shows nothing).
   */
  get interactive(): boolean {
    return this.io.stdout.isTTY === true && (this.io.stdout.rows ?? 0) > 0;
  }

  sagas(): SagaClient {
    this.sagaClient ??= createSagaClient(this.baseUrl(), { token: this.token(), protocol: this.options.protocol });
    return this.sagaClient;
  }

  definitions(): DefinitionClient {
    this.definitionClient ??= createDefinitionClient(this.baseUrl(), { token: this.token(), protocol: this.options.protocol });
    return this.definitionClient;
  }

  workers(): WorkerClient {
    this.workerClient ??= createWorkerClient(this.baseUrl(), { token: this.token(), protocol: this.options.protocol });
    return this.workerClient;
  }

  /** Runs `call` with errors located in the file `locate` knows (see report-error.ts). */
  async withLocator<T>(locate: Locator, call: () => Promise<T>): Promise<T> {
    this.locator = locate;
    const result = await call();
    this.locator = undefined;
    return result;
  }

  out(text: string): void {
    this.io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  err(text: string): void {
    this.io.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  private baseUrl(): string {
    let url: URL;
    try {
      url = new URL(this.options.url);
    } catch {
      throw new CliError(`--url: "${this.options.url}" is not a URL (e.g. http://127.0.0.1:8080)`, EXIT.USAGE);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new CliError(`--url: "${this.options.url}" must be http:// or https://`, EXIT.USAGE);
    }
    return url.toString().replace(/\/$/, "");
  }

  /**
   * The token, or the error the server would give without one, named by its code as every other
   * error is, so a script that greps `UNAUTHENTICATED` sees a missing token and a bad one alike.
   */
  private token(): string {
    const token = this.options.token;
    if (token === undefined || token === "") {
      throw new CliError("UNAUTHENTICATED: no API token: pass --token or set SAGAD_TOKEN (make one with `sagad token create`)", EXIT.UNAUTHENTICATED);
    }
    return token;
  }
}
