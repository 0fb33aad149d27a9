#!/usr/bin/python3
"""A sagad worker in plain Python: grpcio and stubs generated from proto/saga/v1/worker.proto.

It registers, receives tasks on a Subscribe stream, acknowledges them, runs a handler per action,
heartbeats the tasks it runs, reports each result, and on SIGTERM drains: no new tasks, the ones
in flight finish, then it exits 0. See README.md for how to run it.
"""

import argparse
import logging
import os
import random
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf import json_format, struct_pb2

from saga.v1 import worker_pb2 as pb
from saga.v1 import worker_pb2_grpc

log = logging.getLogger("worker")


class TaskFailed(Exception):
    """Raised by a handler: the attempt failed with this kind; sagad retries it if retryable."""

    def __init__(self, kind, message, retryable=False):
        super().__init__(message)
        self.kind, self.retryable = kind, retryable


# --- The actions. A handler gets the task's rendered config as a dict and an Event that is set
# when sagad asks to stop; it returns the step's output (a dict), None when it stopped on request,
# or raises TaskFailed.

def greet(config, cancelled):
    return {"greeting": "hello " + config["name"]}


def fail(config, cancelled):
    raise TaskFailed("PY_FAILED", config.get("message", "py-fail always fails"), retryable=False)


def sleep(config, cancelled):
    if cancelled.wait(float(config.get("seconds", 60))):
        return None  # stopped: the worker reports it cancelled
    return {"slept": config.get("seconds", 60)}


HANDLERS = {"py-greet": greet, "py-fail": fail, "py-sleep": sleep}


class InFlight:
    """A task this worker acked and runs: `stop` is set when sagad asks to stop it."""

    def __init__(self):
        self.stop = threading.Event()
        self.reason = ""
        self.report = True  # False once sagad forgot the token: any report would be refused


class Worker:
    def __init__(self, target, token, actions, slots, instance_id):
        self.channel = grpc.insecure_channel(target)
        self.stub = worker_pb2_grpc.WorkerServiceStub(self.channel)
        self.metadata = (("authorization", "Bearer " + token),)
        self.actions, self.slots, self.instance_id = actions, slots, instance_id
        self.pool = ThreadPoolExecutor(max_workers=slots)
        self.lock = threading.Lock()
        self.running = {}  # token -> InFlight
        self.stopping = threading.Event()
        self.stream = None
        self.session_id = ""
        self.heartbeat_s = 5.0

    def call(self, method, request):
        return getattr(self.stub, method)(request, metadata=self.metadata, timeout=30)

    def register(self):
        # Registering again with the same instance_id resumes the session (and keeps its tasks).
        res = self.call("RegisterWorker", pb.RegisterWorkerRequest(
            instance_id=self.instance_id, slots=self.slots, sdk="python-example/0.1",
            actions=[pb.WorkerAction(name=a) for a in self.actions]))
        self.session_id = res.session_id
        self.heartbeat_s = res.heartbeat_interval.ToMilliseconds() / 1000
        log.info("registered session %s for %s", self.session_id, ", ".join(self.actions))

    # --- Receiving tasks.

    def subscribe_forever(self):
        backoff = 0.1
        while not self.stopping.is_set():
            try:
                self.stream = self.stub.Subscribe(pb.SubscribeRequest(session_id=self.session_id), metadata=self.metadata)
                for msg in self.stream:
                    backoff = 0.1  # the stream works again
                    kind = msg.WhichOneof("message")
                    if kind == "task":
                        self.accept(msg.task)
                    elif kind == "cancel":
                        self.cancel(msg.cancel.token, msg.cancel.reason)
                    elif kind == "reconnect":
                        log.info("server asks to reconnect: %s", msg.reconnect.reason)
                    elif kind == "drain":
                        log.info("session draining: no new tasks")
                log.info("stream ended; subscribing again")
            except grpc.RpcError as err:
                if self.stopping.is_set():
                    return
                log.warning("stream failed: %s %s", err.code().name, err.details())
                if err.code() == grpc.StatusCode.NOT_FOUND:
                    self.reregister()
            # Back off with jitter, so a restarted sagad is not hit by every worker at once.
            self.stopping.wait(backoff * random.uniform(0.5, 1))
            backoff = min(backoff * 2, 10)

    def reregister(self):
        try:
            self.register()
        except grpc.RpcError as err:
            log.warning("register failed: %s %s", err.code().name, err.details())

    def accept(self, task):
        try:
            rejected = self.call("AckTasks", pb.AckTasksRequest(session_id=self.session_id, tokens=[task.token])).rejected_tokens
        except grpc.RpcError as err:  # unacknowledged, the task is offered again after ack_timeout
            log.warning("ack failed: %s %s", err.code().name, err.details())
            return
        if task.token in rejected:
            log.info("task %s/%s was withdrawn before the ack", task.saga_id, task.step)
            return
        job = InFlight()
        with self.lock:
            self.running[task.token] = job
        self.pool.submit(self.run, task, job)

    def cancel(self, token, reason, report=True):
        with self.lock:
            job = self.running.get(token)
        if job is not None and not job.stop.is_set():
            log.info("stopping a task: %s", reason)
            job.reason, job.report = reason, report
            job.stop.set()

    # --- Running one task and reporting its result.

    def run(self, task, job):
        where = "%s/%s attempt %d" % (task.saga_id, task.step, task.attempt)
        try:
            output = HANDLERS[task.action](json_format.MessageToDict(task.config), job.stop)
            if not job.report:
                log.info("%s: dropped, sagad no longer holds it", where)
            elif job.stop.is_set() and output is None:  # the handler gave up on request
                self.call("ReportCancelled", pb.ReportCancelledRequest(token=task.token, message=job.reason))
                log.info("%s: cancelled", where)
            else:
                value = json_format.ParseDict(output, struct_pb2.Value())
                self.call("CompleteTask", pb.CompleteTaskRequest(token=task.token, output=value))
                log.info("%s: completed", where)
        except TaskFailed as err:
            self.fail(task, err.kind, str(err), err.retryable, where)
        except grpc.RpcError as err:
            # A refused report (stale attempt, token no longer known): sagad has moved on.
            log.warning("%s: report refused: %s %s", where, err.code().name, err.details())
        except Exception as err:  # a bug in a handler: let the retry policy decide
            self.fail(task, "PY_EXCEPTION", "%s: %s" % (type(err).__name__, err), True, where)
        finally:
            with self.lock:
                self.running.pop(task.token, None)

    def fail(self, task, kind, message, retryable, where):
        try:
            self.call("FailTask", pb.FailTaskRequest(token=task.token, error_kind=kind, message=message, retryable=retryable))
            log.info("%s: failed (%s)", where, kind)
        except grpc.RpcError as err:
            log.warning("%s: report refused: %s %s", where, err.code().name, err.details())

    # --- Liveness.

    def heartbeat_forever(self, done):
        while not done.wait(self.heartbeat_s):
            with self.lock:
                tokens = list(self.running)
            try:
                res = self.call("Heartbeat", pb.HeartbeatRequest(
                    session_id=self.session_id, tasks=[pb.TaskHeartbeat(token=t) for t in tokens]))
            except grpc.RpcError as err:
                log.warning("heartbeat failed: %s %s", err.code().name, err.details())
                if err.code() == grpc.StatusCode.NOT_FOUND:
                    self.reregister()  # the session was lost; its tasks went to other workers
                continue
            for c in res.cancel:
                self.cancel(c.token, c.reason)
            for token in res.unknown_tokens:  # finished or given to another worker: stop them
                self.cancel(token, "sagad no longer holds it", report=False)

    def main(self):
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        self.register()
        beating = threading.Event()
        threading.Thread(target=self.heartbeat_forever, args=(beating,), daemon=True).start()
        subscriber = threading.Thread(target=self.subscribe_forever, daemon=True)
        subscriber.start()
        while not self.stopping.wait(0.5):
            pass
        # Graceful shutdown: no new tasks, keep heartbeating until the running ones are reported.
        log.info("draining (%d in flight)", self.call("Drain", pb.DrainRequest(session_id=self.session_id)).in_flight)
        if self.stream is not None:
            self.stream.cancel()
        subscriber.join(5)
        self.pool.shutdown(wait=True)
        beating.set()
        self.channel.close()
        log.info("stopped")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("SAGAD_URL", "127.0.0.1:8080"), help="sagad host:port (env SAGAD_URL)")
    p.add_argument("--token", default=os.environ.get("SAGAD_TOKEN"), help="a token with scope workers (env SAGAD_TOKEN)")
    p.add_argument("--actions", default=os.environ.get("SAGAD_ACTIONS", ",".join(HANDLERS)), help="comma-separated actions to serve")
    p.add_argument("--slots", type=int, default=4, help="most tasks run at once")
    p.add_argument("--instance-id", default="py-%s-%d" % (socket.gethostname(), os.getpid()))
    args = p.parse_args()
    if not args.token:
        p.error("a token is needed: --token or SAGAD_TOKEN")
    args.actions = [a for a in args.actions.split(",") if a]
    unknown = [a for a in args.actions if a not in HANDLERS]
    if unknown:
        p.error("no handler for %s (known: %s)" % (", ".join(unknown), ", ".join(HANDLERS)))
    # host:port for grpc; accept the http:// URL the rest of sagad's tools take.
    args.url = args.url.removeprefix("http://").rstrip("/")
    return args


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    a = parse_args()
    Worker(a.url, a.token, a.actions, a.slots, a.instance_id).main()
