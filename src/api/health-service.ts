import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { HealthMonitor } from "../engine/health-monitor.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/health/v1/health_pb.js";
import { SagaService } from "../gen/saga/v1/saga_pb.js";

export interface HealthServiceDeps {
  health: HealthMonitor;
  /** Aborted at shutdown: open Watch streams send their last status and end. */
  shutdownSignal: AbortSignal;
}

/** The services health is reported for: "" (the server as a whole) and the saga API. */
export const HEALTH_SERVICES: readonly string[] = ["", SagaService.typeName];

/**
 * grpc.health.v1 over the one HealthMonitor that also answers /readyz: SERVING only when
 * migrations ran, the database answers and the server is not draining; NOT_SERVING otherwise.
 * Unknown services are NOT_FOUND for Check and SERVICE_UNKNOWN for Watch, as the protocol says.
 * Watch sends the current status at once and then each change; shutdown ends it cleanly after
 * it delivered NOT_SERVING.
 */
export function createHealthService(deps: HealthServiceDeps): ServiceImpl<typeof Health> {
  const status = () => (deps.health.readiness().ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  return {
    check(req) {
      if (!HEALTH_SERVICES.includes(req.service)) {
        throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      }
      return { status: status() };
    },

    list() {
      const current = status();
      return { statuses: Object.fromEntries(HEALTH_SERVICES.map((service) => [service, { status: current }])) };
    },

    async *watch(req, context) {
      const signals = [context.signal, deps.shutdownSignal];
      const known = HEALTH_SERVICES.includes(req.service);
      let wake: (() => void) | null = null;
      // Set by changes that land while a status is being sent, so none is slept through.
      let dirty = false;
      const poke = () => {
        dirty = true;
        wake?.();
      };
      const unsubscribe = deps.health.onChange(poke);
      for (const signal of signals) signal.addEventListener("abort", poke);
      try {
        let sent: ServingStatus | undefined;
        for (;;) {
          dirty = false;
          // Read after every wake-up: drain() runs before shutdown aborts, so NOT_SERVING goes out first.
          const current = known ? status() : ServingStatus.SERVICE_UNKNOWN;
          if (current !== sent) {
            sent = current;
            yield { status: current };
          }
          if (signals.some((s) => s.aborted)) return;
          if (!dirty) await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      } finally {
        unsubscribe();
        for (const signal of signals) signal.removeEventListener("abort", poke);
      }
    },
  };
}
