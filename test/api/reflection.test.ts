import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { registerReflection } from "../../src/api/reflection-service.js";
import * as v1 from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health } from "../../src/gen/health/v1/health_pb.js";
import { SagaService } from "../../src/gen/saga/v1/saga_pb.js";

type Request = v1.ServerReflectionRequest["messageRequest"];
type Response = v1.ServerReflectionResponse["messageResponse"];

const transport = createRouterTransport((router) => registerReflection(router, [SagaService, Health]));

/** Sends each request on one bidi stream of `version` and returns the answers in order. */
async function reflect(version: "v1" | "v1alpha", ...requests: Request[]) {
  const out: { host: string; original: Request | undefined; response: Response }[] = [];
  async function* input() {
    for (const messageRequest of requests) yield { host: "sagad.test", messageRequest };
  }
  if (version === "v1") {
    for await (const res of createClient(v1.ServerReflection, transport).serverReflectionInfo(input())) {
      out.push({ host: res.validHost, original: res.originalRequest?.messageRequest, response: res.messageResponse });
    }
  } else {
    // Same fields, other package: compare through the v1 shapes.
    const alpha = createClient(v1alpha.ServerReflection, transport);
    for await (const res of alpha.serverReflectionInfo(input() as AsyncIterable<never>)) {
      out.push({ host: res.validHost, original: res.originalRequest?.messageRequest as Request, response: res.messageResponse as Response });
    }
  }
  return out;
}

function fileNames(response: Response): string[] {
  if (response.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${response.case}: ${JSON.stringify(response.value)}`);
  return response.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

function errorOf(response: Response) {
  if (response.case !== "errorResponse") throw new Error(`expected an error, got ${response.case}`);
  return { code: response.value.errorCode, message: response.value.errorMessage };
}

describe.each(["v1", "v1alpha"] as const)("server reflection %s", (version) => {
  it("lists the saga API, health and both reflection services", async () => {
    const [answer] = await reflect(version, { case: "listServices", value: "*" });
    expect(answer!.host).toBe("sagad.test");
    expect(answer!.original).toEqual({ case: "listServices", value: "*" });
    expect(answer!.response.case).toBe("listServicesResponse");
    const names = answer!.response.case === "listServicesResponse" ? answer!.response.value.service.map((s) => s.name) : [];
    expect(names.sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "saga.v1.SagaService",
    ]);
  });

  it("answers a file by name with the file first and every dependency, transitively", async () => {
    const [answer] = await reflect(version, { case: "fileByFilename", value: "saga/v1/saga.proto" });
    const names = fileNames(answer!.response);
    expect(names[0]).toBe("saga/v1/saga.proto");
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(["google/protobuf/struct.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto"]));
    // Enough to rebuild the whole schema from nothing, as buf curl does.
    const files = answer!.response.case === "fileDescriptorResponse" ? answer!.response.value.fileDescriptorProto : [];
    const protos = files.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    for (const proto of protos) for (const dep of proto.dependency) expect(names, `${proto.name} imports ${dep}`).toContain(dep);
  });

  it("finds the file of a service, method, message, nested field and enum", async () => {
    const symbols = ["saga.v1.SagaService", "saga.v1.SagaService.WatchSaga", "saga.v1.CreateSagaRequest", "saga.v1.Saga.steps", "saga.v1.SagaStatus"];
    const answers = await reflect(version, ...symbols.map((value): Request => ({ case: "fileContainingSymbol", value })));
    expect(answers.map((a) => fileNames(a.response)[0])).toEqual(symbols.map(() => "saga/v1/saga.proto"));
    const [health] = await reflect(version, { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckRequest" });
    expect(fileNames(health!.response)).toEqual(["health/v1/health.proto"]);
  });

  it("answers what it cannot find with a NOT_FOUND error response, and keeps the stream going", async () => {
    const answers = await reflect(
      version,
      { case: "fileContainingSymbol", value: "saga.v1.NoSuchThing" },
      { case: "fileByFilename", value: "nope.proto" },
      { case: "fileContainingExtension", value: create(v1.ExtensionRequestSchema, { containingType: "saga.v1.Saga", extensionNumber: 1000 }) },
      { case: "allExtensionNumbersOfType", value: "saga.v1.NoSuchMessage" },
      { case: undefined },
      { case: "listServices", value: "" },
    );
    expect(answers.slice(0, 4).map((a) => errorOf(a.response))).toEqual([
      { code: Code.NotFound, message: "symbol not found: saga.v1.NoSuchThing" },
      { code: Code.NotFound, message: "file not found: nope.proto" },
      { code: Code.NotFound, message: "extension 1000 of saga.v1.Saga not found" },
      { code: Code.NotFound, message: "message type not found: saga.v1.NoSuchMessage" },
    ]);
    expect(errorOf(answers[4]!.response).code).toBe(Code.InvalidArgument);
    expect(answers[5]!.response.case).toBe("listServicesResponse");
  });

  it("lists the extension numbers of a known message (ours declare none)", async () => {
    const [answer] = await reflect(version, { case: "allExtensionNumbersOfType", value: "saga.v1.Saga" });
    expect(answer!.response.case).toBe("allExtensionNumbersResponse");
    expect(answer!.response.value).toMatchObject({ baseTypeName: "saga.v1.Saga", extensionNumber: [] });
  });
});
