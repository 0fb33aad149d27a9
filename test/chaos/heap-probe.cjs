// Loaded into the soak's sagad replicas with NODE_OPTIONS=--require (CommonJS, so no loader is
// needed): on SIGUSR2 it runs a full garbage collection and writes one line to stderr with what is
// still alive. RSS is a high-water mark (freed memory is not always returned to the OS); the live
// heap after a full GC is what a leak makes grow. Test harness only; sagad knows nothing of it.
"use strict";
const v8 = require("node:v8");
const vm = require("node:vm");

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");
process.on("SIGUSR2", () => {
  gc();
  const { heapUsed, external, rss } = process.memoryUsage();
  process.stderr.write(`sagad-heap-probe ${JSON.stringify({ at: Date.now(), heapUsed, external, rss })}\n`);
});
