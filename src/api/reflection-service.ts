import { create, createRegistry, fromBinary, toBinary, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

/**
 * Registers gRPC server reflection, v1 and v1alpha (older clients such as some grpcurl builds
 * still ask v1alpha), describing `services` and the reflection services themselves, so `buf curl`
 * and grpcurl need no schema. No npm package serves reflection for Connect-ES; this one answers
 * from the generated descriptors, each file with its dependencies (transitively), so a client
 * can always build the full schema. Descriptors carry no comments; proto/ is the manual.
 */
export function registerReflection(router: ConnectRouter, services: readonly DescService[]): void {
  const all = [...services, v1.ServerReflection, v1alpha.ServerReflection];
  const answer = createAnswerer(all);
  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield answer(req);
    },
  });
  // The two versions are the same messages under another package, field for field, so v1alpha
  // is answered by converting through the wire format.
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const res = answer(fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, req)));
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, res));
      }
    },
  });
}

/** Builds the request → response function over the files that define `services`. */
function createAnswerer(services: readonly DescService[]): (req: Request) => Response {
  const files = new Map<string, DescFile>();
  const addFile = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    file.dependencies.forEach(addFile);
  };
  services.forEach((s) => addFile(s.file));
  const registry = createRegistry(...files.values());
  const serviceNames = services.map((s) => ({ name: s.typeName }));
  const encoded = new Map<string, Uint8Array>();
  const bytesOf = (file: DescFile) => {
    let bytes = encoded.get(file.proto.name);
    if (!bytes) encoded.set(file.proto.name, (bytes = toBinary(FileDescriptorProtoSchema, file.proto)));
    return bytes;
  };
  /** The file first, then everything it imports, each once. */
  const withDependencies = (file: DescFile): Response["messageResponse"] => {
    const seen = new Map<string, Uint8Array>();
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.set(f.proto.name, bytesOf(f));
      f.dependencies.forEach(visit);
    };
    visit(file);
    return { case: "fileDescriptorResponse", value: create(v1.FileDescriptorResponseSchema, { fileDescriptorProto: [...seen.values()] }) };
  };
  const error = (code: Code, message: string): Response["messageResponse"] => ({
    case: "errorResponse",
    value: create(v1.ErrorResponseSchema, { errorCode: code, errorMessage: message }),
  });

  const respond = (req: Request): Response["messageResponse"] => {
    const { case: kind, value } = req.messageRequest;
    switch (kind) {
      case "listServices":
        return { case: "listServicesResponse", value: create(v1.ListServiceResponseSchema, { service: serviceNames }) };
      case "fileByFilename": {
        const file = files.get(value);
        return file ? withDependencies(file) : error(Code.NotFound, `file not found: ${value}`);
      }
      case "fileContainingSymbol": {
        const file = fileDefining(registry, value);
        return file ? withDependencies(file) : error(Code.NotFound, `symbol not found: ${value}`);
      }
      case "fileContainingExtension": {
        const extendee = registry.getMessage(value.containingType);
        const extension = extendee && registry.getExtensionFor(extendee, value.extensionNumber);
        return extension
          ? withDependencies(extension.file)
          : error(Code.NotFound, `extension ${value.extensionNumber} of ${value.containingType} not found`);
      }
      case "allExtensionNumbersOfType": {
        if (!registry.getMessage(value)) return error(Code.NotFound, `message type not found: ${value}`);
        const numbers = [...registry].flatMap((d) => (d.kind === "extension" && d.extendee.typeName === value ? [d.number] : []));
        return {
          case: "allExtensionNumbersResponse",
          value: create(v1.ExtensionNumberResponseSchema, { baseTypeName: value, extensionNumber: numbers }),
        };
      }
      default:
        return error(Code.InvalidArgument, "the request sets none of the message_request fields");
    }
  };
  return (req) => create(v1.ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse: respond(req) });
}

/**
 * The file declaring a fully-qualified symbol: a message, enum, service or extension, or a
 * method or field of one (`saga.v1.SagaService.GetSaga`, `saga.v1.Saga.id`).
 */
function fileDefining(registry: Registry, symbol: string): DescFile | undefined {
  const desc = registry.get(symbol);
  if (desc) return desc.file;
  const dot = symbol.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const parent = registry.get(symbol.slice(0, dot));
  const member = symbol.slice(dot + 1);
  if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
  if (parent?.kind === "message" && parent.fields.some((f) => f.name === member)) return parent.file;
  return undefined;
}
