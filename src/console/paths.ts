/** Paths under the console's base; sagad answers every /console/* path with the console's page. */
export const PATHS = {
  sagas: "/console/",
  saga: (id: string) => `/console/sagas/${encodeURIComponent(id)}`,
  definitions: "/console/definitions",
  definition: (name: string) => `/console/definitions/${encodeURIComponent(name)}`,
  workers: "/console/workers",
  circuits: "/console/circuits",
} as const;
