import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { invalidArgument } from "../domain/errors.js";
import { SAGA_NAME_PATTERN } from "../domain/names.js";
import { renderVarTemplates } from "../domain/templates.js";
import { validateDefinitionSpec } from "../domain/validate-definition.js";
import { validateCreateFromDefinition, type ValidationLimits } from "../domain/validate-saga.js";
import { requestHash } from "../engine/saga-identity.js";
import type { DefinitionService } from "../gen/saga/v1/definition_pb.js";
import type { DefinitionStore } from "../store/definition-store.js";
import type { DefinitionCatalog } from "./definition-catalog.js";
import { missing } from "./definition-catalog.js";
import {
  definitionStateFromProto,
  definitionToProto,
  rawDefinitionSpec,
  specToJson,
  stepSpecToProto,
} from "./convert-definitions.js";
import { principalKey } from "./principal.js";

export interface DefinitionServiceDeps {
  definitions: DefinitionStore;
  catalog: DefinitionCatalog;
  limits: ValidationLimits;
  acceptsAction: (name: string) => boolean;
  logger: Logger;
  now?: () => number;
}

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/**
 * DefinitionService: register versions (validated as CreateSaga validates a saga), read and list
 * them, dry-run CreateSaga (RenderDefinition), and switch a version's state. Thin like
 * SagaService: validation is the domain's, SQL the store's.
 */
export function createDefinitionService(deps: DefinitionServiceDeps): ServiceImpl<typeof DefinitionService> {
  const now = deps.now ?? Date.now;
  return {
    async registerDefinition(req, context) {
      if (!req.spec) throw invalidArgument([{ field: "spec", description: "is required" }]);
      if (!Number.isInteger(req.expectedLatestVersion) || req.expectedLatestVersion < -1) {
        throw invalidArgument([{ field: "expected_latest_version", description: `must be -1 (no version yet), 0 (no check) or a version; got ${req.expectedLatestVersion}` }]);
      }
      const compiled = validateDefinitionSpec(rawDefinitionSpec(req.spec), deps.limits, deps.acceptsAction);
      const spec = specToJson(req.spec);
      const createdBy = tokenName(context) ?? "";
      const { record, created } = await deps.definitions.register(
        { name: compiled.name, spec, specHash: requestHash(spec), labels: compiled.labels, stepCount: compiled.steps.length, createdBy },
        req.expectedLatestVersion,
        now(),
      );
      if (created) deps.catalog.forget(record.name);
      if (created) deps.logger.info({ definition: record.name, version: record.version, steps: record.stepCount, token: createdBy || null }, "definition registered");
      return { definition: definitionToProto(record), created };
    },

    async getDefinition(req) {
      const name = requireDefinitionName(req.name, "name");
      const version = requireVersion(req.version, "version", true);
      const record = await deps.definitions.get(name, version);
      if (record === null) throw missing(name, version);
      return { definition: definitionToProto(record) };
    },

    async listDefinitions(req) {
      const pageSize = checkPageSize(req.pageSize);
      const page = await deps.definitions.listLatest({ prefix: req.namePrefix, labels: { ...req.labels } }, pageSize, req.pageToken);
      return { definitions: page.definitions.map((d) => definitionToProto(d, false)), nextPageToken: page.nextPageToken };
    },

    async listDefinitionVersions(req) {
      const name = requireDefinitionName(req.name, "name");
      const page = await deps.definitions.listVersions(name, checkPageSize(req.pageSize), req.pageToken);
      if (page.definitions.length === 0 && req.pageToken === "") throw missing(name, 0);
      return { definitions: page.definitions.map((d) => definitionToProto(d, false)), nextPageToken: page.nextPageToken };
    },

    async renderDefinition(req) {
      const name = requireDefinitionName(req.name, "name");
      // A dry run writes nothing that could re-check the version: read its state now.
      const resolved = await deps.catalog.resolve(name, requireVersion(req.version, "version", true), true);
      const draft = validateCreateFromDefinition(
        { name: "", steps: [], vars: { ...req.vars }, labels: {}, failurePolicy: "", maxRetries: 0, requestId: "", definition: "", definitionRef: { name, version: req.version } },
        resolved.compiled,
        resolved.version,
        { state: resolved.state, latest: req.version === 0 },
      );
      const steps = draft.steps.map((step) =>
        stepSpecToProto({
          ...step,
          config: renderVarTemplates(step.config, draft.vars),
          compensate: step.compensate && { ...step.compensate, config: renderVarTemplates(step.compensate.config, draft.vars) },
        }),
      );
      return { version: resolved.version, vars: draft.vars, steps, warnings: deprecationWarnings(name, resolved.version, resolved.state) };
    },

    async setDefinitionState(req, context) {
      const name = requireDefinitionName(req.name, "name");
      const version = requireVersion(req.version, "version", false);
      const state = definitionStateFromProto(req.state);
      if (!state) throw invalidArgument([{ field: "state", description: "must be ACTIVE, DEPRECATED or DISABLED" }]);
      const record = await deps.definitions.setState(name, version, state, now());
      if (record === null) throw missing(name, version);
      deps.catalog.forget(name);
      deps.logger.info({ definition: name, version, state, token: tokenName(context) }, "definition state set");
      return { definition: definitionToProto(record) };
    },
  };
}

/** What CreateSaga tells a caller who starts a DEPRECATED version. */
export function deprecationWarnings(name: string, version: number, state: string): string[] {
  return state === "DEPRECATED" ? [`definition ${JSON.stringify(name)} version ${version} is DEPRECATED; move to a newer version`] : [];
}

export function requireDefinitionName(name: string, field: string): string {
  if (name === "") throw invalidArgument([{ field, description: "is required" }]);
  if (!SAGA_NAME_PATTERN.test(name)) {
    throw invalidArgument([{ field, description: "must be 1 to 200 of [A-Za-z0-9_.:/-], starting with a letter or digit" }]);
  }
  return name;
}

/** `latestAllowed`: 0 means the latest; otherwise versions start at 1. */
export function requireVersion(version: number, field: string, latestAllowed: boolean): number {
  const min = latestAllowed ? 0 : 1;
  if (!Number.isInteger(version) || version < min) {
    throw invalidArgument([{ field, description: latestAllowed ? `must be 0 (the latest) or a version; got ${version}` : `must be a version (1 or more); got ${version}` }]);
  }
  return version;
}

function checkPageSize(pageSize: number): number {
  if (pageSize < 0) throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

function tokenName(context: HandlerContext): string | null {
  return context.values.get(principalKey)?.tokenName ?? null;
}
