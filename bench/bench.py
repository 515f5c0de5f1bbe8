#!/usr/bin/env python3
"""service-monitor benchmarks, side by side with the references, in one run (issue #8).

Run through `./dev bench`, which builds the release binary and installs etcd; by hand:

    bench/bench.py --service-monitor PATH --stand-in PATH [--results bench/RESULTS.md]

Every benchmark runs against one throwaway etcd started here on free loopback ports. Figures are
medians/percentiles, and ratios against a reference measured in the same run, alternating A/B, so
that a loaded machine slows both sides alike. Nothing here is a pass/fail test: it prints a table
(target met or not) and writes it, with the machine facts, to the results file.

BENCH_FOOTPRINT_SECONDS (default 300) shortens the footprint run for development; the committed
RESULTS.md comes from a full run. BENCH_ONLY=discovery,handoff,... runs a subset.
"""

import argparse
import base64
import collections
import datetime
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PREFIX = "/service-monitor"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- statistics ------------------------------------------------------------------------------------

def percentile(values, fraction):
    """Nearest-rank percentile (p50 of an even count is the lower middle one)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil(n * fraction), at least 1
    return ordered[int(rank) - 1]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


# --- processes -------------------------------------------------------------------------------------

class Timed:
    """A whole process, timed from spawn to reaped, with its rusage (CPU; not its peak RSS, which
    `peak_rss_kib` measures)."""

    def __init__(self, argv, wall, status, stdout, rusage):
        self.argv, self.wall, self.status, self.stdout, self.rusage = argv, wall, status, stdout, rusage


def run_timed(argv, env=None):
    """Runs argv to completion; wall time covers fork/exec to exit, as a caller in a script sees it."""
    out = tempfile.TemporaryFile()
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    _, status, rusage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    return Timed(argv, wall, process.returncode, out.read().decode(), rusage)


def peak_rss_kib(argv, env=None):
    """argv's own peak RSS in KiB, through /usr/bin/time. The ru_maxrss wait4 reports for a child of
    this process is never below what this process had resident when it forked (Linux keeps the
    high-water mark of the image exec replaces), so every command measured that way showed
    Python's ~24 MiB or more; /usr/bin/time forks from a process of about 2 MiB."""
    with tempfile.NamedTemporaryFile(mode="r") as report:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, check=True)
        return int(report.read().split()[-1])


class Background:
    """A long-running process whose output lines and exit are stamped as they happen, by threads."""

    started = []  # every one, so that a run cut short still stops them all

    def __init__(self, argv, name, env=None):
        self.name = name
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True
        )
        Background.started.append(self)
        self.lines = []  # (time, stream, line)
        self.lock = threading.Condition()
        self.exited_at = None
        self.status = None
        self.threads = [
            threading.Thread(target=self._read, args=(self.process.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, "err"), daemon=True),
        ]
        for thread in self.threads:
            thread.start()
        threading.Thread(target=self._reap, daemon=True).start()

    def _read(self, stream, which):
        for line in stream:
            with self.lock:
                self.lines.append((time.perf_counter(), which, line.rstrip("\n")))
                self.lock.notify_all()

    def _reap(self):
        status = self.process.wait()
        now = time.perf_counter()
        with self.lock:
            self.exited_at, self.status = now, status
            self.lock.notify_all()

    def wait_line(self, pattern, timeout, stream=None, after=0):
        """The time of the first line matching pattern (searching from index `after`), or raises."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for index in range(after, len(self.lines)):
                    stamp, which, line = self.lines[index]
                    if (stream is None or which == stream) and regex.search(line):
                        return stamp, index
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.exited_at is not None and not self._has_unread()):
                    tail = "\n".join(l for _, _, l in self.lines[-5:])
                    raise RuntimeError(f"{self.name}: no line matching {pattern!r} within {timeout}s; last lines:\n{tail}")
                self.lock.wait(min(remaining, 0.5))

    def _has_unread(self):
        return any(thread.is_alive() for thread in self.threads)

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.exited_at is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"{self.name}: still running after {timeout}s")
                self.lock.wait(remaining)
            return self.exited_at, self.status

    def count(self, pattern):
        regex = re.compile(pattern)
        with self.lock:
            return sum(1 for _, _, line in self.lines if regex.search(line))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# --- etcd ------------------------------------------------------------------------------------------

def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def prefix_end(prefix):
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return bytes(raw)


class Etcd:
    """A throwaway single-member etcd in a temp dir, and a small client over its JSON gateway
    (used for setting up data and for counting; the benchmarked clients speak gRPC)."""

    def __init__(self, workdir):
        client_port, peer_port = free_ports(2)
        self.port = client_port
        self.endpoint = f"http://127.0.0.1:{client_port}"
        peer = f"http://127.0.0.1:{peer_port}"
        self.log = open(os.path.join(workdir, "etcd.log"), "w")
        self.process = subprocess.Popen(
            ["etcd", "--name", "bench", "--data-dir", os.path.join(workdir, "etcd"),
             "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"bench={peer}", "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.connection = None
        deadline = time.monotonic() + 30
        while True:
            try:
                if json.loads(self.get("/health")).get("health") == "true":
                    break
            except (OSError, http.client.HTTPException, ValueError):
                self.connection = None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("etcd did not become healthy; see etcd.log")
            time.sleep(0.1)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def _request(self, method, path, body=None):
        for attempt in range(3):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                payload = None if body is None else json.dumps(body)
                self.connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
                response = self.connection.getresponse()
                data = response.read().decode()
                if response.status != 200:
                    raise RuntimeError(f"etcd {path}: HTTP {response.status}: {data}")
                return data
            except (OSError, http.client.HTTPException):
                self.connection = None
                if attempt == 2:
                    raise

    def get(self, path):
        return self._request("GET", path)

    def call(self, path, body):
        return json.loads(self._request("POST", "/v3/" + path, body))

    def grant(self, ttl):
        return int(self.call("lease/grant", {"TTL": ttl})["ID"])

    def revoke(self, lease):
        self.call("lease/revoke", {"ID": lease})

    def put_many(self, items, lease=0, batch=100):
        """Puts (key, value) pairs, `batch` per transaction (etcd allows 128 operations per txn)."""
        for start in range(0, len(items), batch):
            operations = [
                {"request_put": {"key": b64(k), "value": b64(v), "lease": lease}} for k, v in items[start:start + batch]
            ]
            self.call("kv/txn", {"success": operations})

    def range(self, prefix, count_only=False):
        response = self.call("kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix)), "count_only": count_only})
        return response

    def count(self, prefix):
        return int(self.range(prefix, count_only=True).get("count", 0))

    def revision(self):
        return int(self.range("/", count_only=True)["header"]["revision"])

    def keys_by_creation(self, prefix):
        kvs = self.range(prefix).get("kvs", [])
        kvs.sort(key=lambda kv: int(kv["create_revision"]))
        return [base64.b64decode(kv["key"]).decode() for kv in kvs]

    def metric(self, name):
        total = 0.0
        for line in self.get("/metrics").splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def delete_prefix(self, prefix):
        self.call("kv/deleterange", {"key": b64(prefix), "range_end": b64(prefix_end(prefix))})


def instance_record(service_id, host, since="2026-01-01T00:00:00.000Z"):
    """A record in the layout `watch` writes (docs/store-layout.md, InstanceRecord.swift)."""
    return json.dumps({
        "service_id": service_id, "host": host, "state": "up", "since": since,
        "detail": "HTTP 200 in 1 ms", "info": {"name": service_id},
    }, separators=(",", ":"))


def fake_host(i):
    """Instance i's address: distinct strings, never dialled."""
    return f"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{(i & 255)}"


def alternating(first, second, runs, env):
    """`runs` pairs of runs of two commands, which one goes first alternating, so drift and caches
    hit both alike: a list of (first's Timed, second's Timed)."""
    pairs = []
    for index in range(runs):
        if index % 2 == 0:
            a = run_timed(first, env)
            b = run_timed(second, env)
        else:
            b = run_timed(second, env)
            a = run_timed(first, env)
        pairs.append((a, b))
    return pairs


def register(etcd, label, count, lease):
    items = []
    for i in range(count):
        service_id = f"{label}-{i}"
        host = fake_host(i)
        items.append((f"{PREFIX}/{label}/instances/{service_id}", instance_record(service_id, host)))
    etcd.put_many(items, lease)


# --- the benchmarks --------------------------------------------------------------------------------

class Bench:
    def __init__(self, service_monitor, stand_in, etcd, workdir):
        self.sm = service_monitor
        self.stand_in = stand_in
        self.etcd = etcd
        self.workdir = workdir
        self.env = dict(os.environ, ETCDCTL_API="3")
        for name in ("ETCDCTL_ENDPOINTS", "SERVICE_MONITOR_ENDPOINTS", "SERVICE_MONITOR_PREFIX", "JOURNAL_STREAM", "NOTIFY_SOCKET"):
            self.env.pop(name, None)
        self.rows = []      # summary table rows: (benchmark, measure, service-monitor, reference, ratio/target, met)
        self.details = []   # markdown paragraphs for RESULTS.md

    def smctl(self, *args):
        return [self.sm, *args, "--endpoints", self.etcd.endpoint]

    def etcdctl(self, *args):
        return ["etcdctl", "--endpoints", self.etcd.endpoint, *args]

    def row(self, benchmark, measure, ours, reference, target, met):
        self.rows.append((benchmark, measure, ours, reference, target, "yes" if met else "**no**" if met is False else "–"))

    # 1. Discovery latency ------------------------------------------------------------------------
    SIZES = (50, 1_000, 10_000)

    def discovery(self, runs=20):
        """`hosts` against two references at each size, interleaved: etcdctl listing the keys (the
        least a script can ask etcd for) and what scripts run today to get the same answer, the
        values through jq. The per-instance cost is the slope of a least-squares fit over the sizes."""
        medians = collections.defaultdict(dict)  # reference name -> size -> median wall seconds
        for size in self.SIZES:
            label = f"discovery{size}"
            lease = self.etcd.grant(3600)
            register(self.etcd, label, size, lease)
            prefix = f"{PREFIX}/{label}/instances/"
            commands = {
                "hosts": self.smctl("hosts", "--label", label),
                "keys-only": self.etcdctl("get", "--prefix", "--keys-only", prefix),
                "jq": ["sh", "-c", f"etcdctl --endpoints {self.etcd.endpoint} get --prefix --print-value-only {prefix} "
                                   "| jq -r 'select(.state==\"up\").host' | paste -sd,"],
            }
            # Warm the page cache and etcd for all before timing.
            for _ in range(2):
                for argv in commands.values():
                    run_timed(argv, self.env)
            walls, rss = collections.defaultdict(list), collections.defaultdict(list)
            ratios = collections.defaultdict(list)
            order = list(commands)
            for index in range(runs):
                # Rotate which goes first, so drift and caches hit every command alike.
                turn = order[index % len(order):] + order[:index % len(order)]
                results = {name: run_timed(commands[name], self.env) for name in turn}
                ours = results["hosts"]
                if ours.status != 0 or len(ours.stdout.strip().split(",")) != size:
                    raise RuntimeError(f"hosts printed {len(ours.stdout.strip().split(','))} hosts (status {ours.status}), expected {size}")
                if results["keys-only"].status != 0 or len([l for l in results["keys-only"].stdout.splitlines() if l]) != size:
                    raise RuntimeError(f"etcdctl get failed or listed the wrong count (status {results['keys-only'].status})")
                # The same hosts; the order differs (hosts: registration order, etcd: key order).
                if results["jq"].status != 0 or sorted(results["jq"].stdout.strip().split(",")) != sorted(ours.stdout.strip().split(",")):
                    raise RuntimeError(f"the jq pipeline printed something else than hosts (status {results['jq'].status})")
                for name, result in results.items():
                    walls[name].append(result.wall)
                for name in ("keys-only", "jq"):
                    ratios[name].append(ours.wall / results[name].wall)
            # Apart from the timed rounds, which run unwrapped.
            for _ in range(5):
                for name in ("hosts", "keys-only"):
                    rss[name].append(peak_rss_kib(commands[name], self.env))
            self.etcd.revoke(lease)
            for name in commands:
                medians[name][size] = statistics.median(walls[name])
            ratio, jq_ratio = statistics.median(ratios["keys-only"]), statistics.median(ratios["jq"])
            goal = 0.8 if size <= 50 else 1.0
            self.row("1. discovery", f"`hosts` wall time, {size} instances (median of {runs})",
                     ms(medians["hosts"][size]), f"{ms(medians['keys-only'][size])} (etcdctl get --prefix --keys-only)",
                     f"ratio {ratio:.2f} ≤ {goal}", ratio <= goal)
            self.row("1. discovery", f"`hosts` against the jq pipeline, {size} instances",
                     ms(medians["hosts"][size]), f"{ms(medians['jq'][size])} (etcdctl get --print-value-only \\| jq \\| paste)",
                     f"ratio {jq_ratio:.2f} ≤ 0.5", jq_ratio <= 0.5)
            if size == max(self.SIZES):
                peak, reference_peak = statistics.median(rss["hosts"]), statistics.median(rss["keys-only"])
                self.row("1. discovery", f"`hosts` peak RSS, {size} instances (median of 5)", f"{peak / 1024:.1f} MiB",
                         f"{reference_peak / 1024:.1f} MiB (etcdctl get --prefix --keys-only)",
                         f"ratio {peak / reference_peak:.2f} ≤ 1.0", peak <= reference_peak)
            self.details.append(
                f"**Discovery, {size} instances**, {runs} rotating rounds: service-monitor hosts "
                f"median {ms(medians['hosts'][size])} (min {ms(min(walls['hosts']))}, max {ms(max(walls['hosts']))}), "
                f"peak RSS median of 5 {statistics.median(rss['hosts']) / 1024:.1f} MiB; etcdctl --keys-only median "
                f"{ms(medians['keys-only'][size])} (min {ms(min(walls['keys-only']))}, max {ms(max(walls['keys-only']))}), peak RSS median "
                f"{statistics.median(rss['keys-only']) / 1024:.1f} MiB; the jq pipeline median {ms(medians['jq'][size])}; "
                f"median of per-round ratios {ratio:.2f} (keys-only) and {jq_ratio:.2f} (jq)."
            )
            if size == 50:
                self.etcdctl_get_rss_kib = statistics.median(rss["keys-only"])
        slopes = {name: self._slope(medians[name]) for name in medians}
        self.row("1. discovery", f"cost per extra instance (fit over {', '.join(map(str, self.SIZES))})",
                 f"{slopes['hosts'] * 1e6:.1f} µs", f"keys-only {slopes['keys-only'] * 1e6:.1f} µs, jq pipeline {slopes['jq'] * 1e6:.1f} µs",
                 f"≤ {slopes['keys-only'] * 1e6:.1f} µs (keys-only)", slopes["hosts"] <= slopes["keys-only"])

        # Start-up alone: what every one-shot command pays before its first etcd request.
        version, reference = [self.sm, "--version"], ["etcdctl", "version"]
        pairs = alternating(version, reference, runs, self.env)
        ours, theirs = [a.wall for a, _ in pairs], [b.wall for _, b in pairs]
        self.row("1. discovery", f"start-up, `--version` (median of {runs})", ms(statistics.median(ours)),
                 f"{ms(statistics.median(theirs))} (etcdctl version)", "≤ 6 ms", statistics.median(ours) <= 0.006)

    @staticmethod
    def _slope(by_size):
        """Least-squares slope of wall seconds over instance count."""
        sizes = sorted(by_size)
        mean_x = statistics.mean(sizes)
        mean_y = statistics.mean(by_size[x] for x in sizes)
        return sum((x - mean_x) * (by_size[x] - mean_y) for x in sizes) / sum((x - mean_x) ** 2 for x in sizes)

    # 2. Lease hand-off -----------------------------------------------------------------------------
    def handoff(self, handoffs=50, queued=10):
        ours = self._handoff_service_monitor(handoffs, queued)
        lock = self._handoff_etcdctl_lock(handoffs, queued)
        seed = self._handoff_seed_polling(handoffs, queued)
        p50 = percentile(ours, 0.5)
        self.row("2. hand-off", f"release → next waiter holds, {queued} queued, {handoffs} hand-offs: p50 / p99",
                 f"{ms(p50)} / {ms(percentile(ours, 0.99))}",
                 f"etcdctl lock {ms(percentile(lock, 0.5))} / {ms(percentile(lock, 0.99))}; "
                 f"seed 2 s polling {ms(percentile(seed, 0.5))} / {ms(percentile(seed, 0.99))}",
                 "p50 ≤ 5 ms", p50 <= 0.005)
        for name, values in (("service-monitor", ours), ("etcdctl lock", lock), ("seed polling", seed)):
            self.details.append(
                f"**Hand-off, {name}**: {len(values)} hand-offs, p50 {ms(percentile(values, 0.5))}, "
                f"p90 {ms(percentile(values, 0.9))}, p99 {ms(percentile(values, 0.99))}, max {ms(max(values))}."
            )

    def _acquire(self, label, service_id, command=None, env=None):
        command = command or self.smctl
        return Background(command("acquire-lease", "--label", label, "--service-id", service_id,
                                  "--host-ip", "127.0.0.1", "--log-target", "console"),
                          service_id, env or self.env)

    def _handoff_service_monitor(self, handoffs, queued, command=None, env=None, label="handoff"):
        """Waiters are `acquire-lease` processes; the hand-off ends when the next one exits 0,
        timed from the moment `release-lease` (of the holder) has returned. `command` and `env`
        choose the store (etcd unless given)."""
        command, env = command or self.smctl, env or self.env
        first = self._acquire(label, "holder-0", command, env)
        first.wait_exit(30)
        holder, spawned, queue, samples = "holder-0", 0, collections.deque(), []

        def enqueue():
            nonlocal spawned
            spawned += 1
            waiter = self._acquire(label, f"waiter-{spawned}", command, env)
            waiter.wait_line("waiting for the startup lease", 30, stream="err")
            queue.append(waiter)

        while len(queue) < queued:
            enqueue()
        for _ in range(handoffs):
            release = run_timed(command("release-lease", "--label", label, "--service-id", holder), env)
            released = time.perf_counter()
            if release.status != 0:
                raise RuntimeError(f"release-lease exited {release.status}")
            head = queue.popleft()
            exited, status = head.wait_exit(30)
            if status != 0:
                raise RuntimeError(f"{head.name} exited {status}")
            if any(w.exited_at is not None for w in queue):
                raise RuntimeError("a waiter behind the head acquired first: FIFO broken")
            samples.append(exited - released)
            holder = head.name
            if spawned < handoffs:
                enqueue()  # keep the queue `queued` deep (outside the measured span)
        run_timed(command("release-lease", "--label", label, "--service-id", holder), env)
        for waiter in queue:
            waiter.stop()
        return samples

    def _handoff_etcdctl_lock(self, handoffs, queued):
        """Waiters are `etcdctl lock NAME` processes, which print their lock key once they hold it
        (and keep holding until signalled). The release is `etcdctl del KEY` of the holder's key,
        a process like `release-lease`; the hand-off is timed from it returning to the next waiter
        printing its key (it does not exit: holding is its "done")."""
        name = "/bench-etcdctl-lock"
        spawned, queue, samples = 0, collections.deque(), []

        def enqueue():
            nonlocal spawned
            spawned += 1
            waiter = Background(self.etcdctl("lock", name), f"lock-{spawned}", self.env)
            expected = 1 + len(queue) + 1  # the holder, those queued, this one
            self._until(lambda: self.etcd.count(name + "/") >= expected, f"etcdctl lock waiter {spawned} queued")
            queue.append(waiter)

        holder = Background(self.etcdctl("lock", name), "lock-holder", self.env)
        _, index = holder.wait_line(name, 30, stream="out")
        holder_key = holder.lines[index][2]
        while len(queue) < queued:
            enqueue()
        for _ in range(handoffs):
            release = run_timed(self.etcdctl("del", holder_key), self.env)
            released = time.perf_counter()
            if release.status != 0 or release.stdout.strip() != "1":
                raise RuntimeError(f"etcdctl del {holder_key} did not delete it")
            head = queue.popleft()
            acquired, index = head.wait_line(name, 30, stream="out")
            samples.append(acquired - released)
            holder.stop()
            holder, holder_key = head, head.lines[index][2]
            if spawned < handoffs:
                enqueue()
        holder.stop()
        for waiter in queue:
            waiter.stop()
        return samples

    def _handoff_seed_polling(self, handoffs, queued):
        """The seed's approach: each waiter retries a create-if-absent every 2 s until it wins
        (not FIFO: whoever polls first wins). Modelled as a shell loop around etcdctl txn; the
        release is `etcdctl del`, and the hand-off ends when some waiter's loop exits."""
        key = "/bench-seed-lease"
        txn = f'create("{key}") = "0"\n\nput {key} held\n\n\n'
        loop = (f'until printf %s \'{txn}\' | etcdctl --endpoints {self.etcd.endpoint} txn | grep -q ^SUCCESS; '
                f'do sleep 2; done')
        self.etcd.put_many([(key, "held")])
        spawned, waiting, samples = 0, [], []

        def spawn():
            nonlocal spawned
            spawned += 1
            waiting.append(Background(["sh", "-c", loop], f"seed-{spawned}", self.env))

        for _ in range(queued):
            spawn()
        for _ in range(handoffs):
            # Release at a random moment of the pollers' 2 s cycle (and after a new waiter's
            # first, failing, try), as a holder's release would come.
            time.sleep(random.uniform(0.3, 2.3))
            deleted = run_timed(self.etcdctl("del", key), self.env)
            released = time.perf_counter()
            if deleted.status != 0:
                raise RuntimeError("etcdctl del failed")
            winner = self._first_exit(waiting, 30)
            samples.append(winner.exited_at - released)
            waiting.remove(winner)
            if spawned < handoffs:
                spawn()
        for waiter in waiting:
            waiter.stop()
        self.etcd.delete_prefix(key)
        return samples

    @staticmethod
    def _first_exit(processes, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [p for p in processes if p.exited_at is not None]
            if done:
                return min(done, key=lambda p: p.exited_at)
            time.sleep(0.002)
        raise RuntimeError("no polling waiter acquired within 30 s")

    @staticmethod
    def _until(condition, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def _stand_in(self, name):
        status_file = os.path.join(self.workdir, f"{name}.status")
        request_log = os.path.join(self.workdir, f"{name}.requests")
        with open(status_file, "w") as f:
            f.write("200\n")
        service = Background([self.stand_in, "--listen", "127.0.0.1:0", "--status-file", status_file,
                              "--request-log", request_log], name, self.env)
        _, index = service.wait_line(r"^listening on \d+", 30, stream="out")
        port = int(service.lines[index][2].split()[-1])
        return service, port, status_file, request_log

    def _watch(self, label, service_id, port, interval, timeout, extra=()):
        return Background(self.smctl("watch", "--label", label, "--service-id", service_id,
                                     "--monitor-url", f"http://127.0.0.1:{port}/", "--host-ip", "127.0.0.1",
                                     "--interval", interval, "--timeout", timeout, "--fall", "1",
                                     "--log-target", "console", *extra),
                          service_id, self.env)

    # 3. Failure detection --------------------------------------------------------------------------
    def failure_detection(self, flips=10, interval=1.0, timeout=0.5):
        label = "detection"
        steady = self.etcd.grant(600)
        self.etcd.put_many([(f"{PREFIX}/{label}/instances/steady", instance_record("steady", "127.0.0.2"))], steady)
        service, port, status_file, _ = self._stand_in("detection-service")
        watcher = self._watch(label, "flaky", port, f"{interval:g}s", f"{int(timeout * 1000)}ms")
        follower = Background(self.smctl("hosts", "--label", label, "--watch"), "hosts --watch", self.env)
        both, alone = r"^127\.0\.0\.2,127\.0\.0\.1$", r"^127\.0\.0\.2$"
        _, seen = follower.wait_line(both, 30, stream="out")
        samples = []
        for _ in range(flips):
            with open(status_file, "w") as f:
                f.write("503\n")
            flipped = time.perf_counter()
            gone, seen = follower.wait_line(alone, 30, stream="out", after=seen + 1)
            samples.append(gone - flipped)
            with open(status_file, "w") as f:
                f.write("200\n")
            _, seen = follower.wait_line(both, 30, stream="out", after=seen + 1)
            time.sleep(random.uniform(0, interval))  # vary the phase of the flip against the check schedule
        follower.stop(signal.SIGINT), watcher.stop(), service.stop()
        self.etcd.revoke(steady)
        limit = interval + timeout + 0.050
        worst = max(samples)
        self.row("3. failure detection", f"200→503 until `hosts --watch` drops it, --interval 1s --timeout 500ms, {flips} flips: median / max",
                 f"{ms(statistics.median(samples))} / {ms(worst)}", "–", f"max ≤ {ms(limit)}", worst <= limit)
        self.details.append(
            f"**Failure detection**: {flips} flips at --interval {interval:g}s --timeout {timeout:g}s --fall 1; "
            f"median {ms(statistics.median(samples))}, min {ms(min(samples))}, max {ms(worst)} "
            f"(target interval + timeout + 50 ms = {ms(limit)})."
        )

    # 4. Footprint ----------------------------------------------------------------------------------
    def footprint(self, seconds):
        label = "footprint"
        service, port, _, request_log = self._stand_in("footprint-service")
        # Start from the page cache a host has after a reboot: none of the binary in it, read in
        # as the watchers fault. The linker's (or a copy's) writes leave it cached in folios of
        # up to 2 MiB, and Linux 6.18 maps a whole folio at one fault, so without this the peak
        # would say how the file was last written: 13.5 / 15.6 / 18.1 MiB for the same binary
        # evicted / copied with cp / as linked (RESULTS.md, (ac)).
        evict_from_page_cache(self.sm)
        watcher = self._watch(label, "only", port, "1s", "500ms")
        watcher.wait_line(r"\bup\b", 30, stream="err")
        # Two more watchers of other instances, so PSS shows what a host running three pays for
        # each: the binary's pages are shared between them.
        companions = []
        for index in (1, 2):
            other, other_port, _, _ = self._stand_in(f"footprint-service-{index}")
            companion = self._watch(label, f"companion-{index}", other_port, "1s", "500ms")
            companion.wait_line(r"\bup\b", 30, stream="err")
            companions.append((other, companion))
        time.sleep(2)  # registration and the first transition are writes; steady state starts after
        revision_before = self.etcd.revision()
        checks_before = self._lines(request_log)
        cpu_before = self._cpu_seconds(watcher.process.pid)
        time.sleep(seconds)
        revision_after = self.etcd.revision()
        checks = self._lines(request_log) - checks_before
        cpu = self._cpu_seconds(watcher.process.pid) - cpu_before
        status = self._proc_status(watcher.process.pid)
        peak_kib, threads = int(status["VmHWM"].split()[0]), int(status["Threads"])
        # RSS = private memory (anonymous) + pages of the binary and libraries mapped in (file,
        # shared with every other process running the same binary, and reclaimable).
        anon_kib, file_kib = int(status["RssAnon"].split()[0]), int(status["RssFile"].split()[0])
        pss_kib = [self._pss_kib(process.process.pid) for process in [watcher] + [c for _, c in companions]]
        watcher.stop()
        service.stop()
        for other, companion in companions:
            companion.stop()
            other.stop()
        pss_mib = statistics.median(pss_kib) / 1024
        writes = revision_after - revision_before
        peak_mib = peak_kib / 1024
        cpu_per_1000 = cpu / checks * 1000 if checks else float("nan")
        reference = getattr(self, "etcdctl_get_rss_kib", 0) / 1024
        self.row("4. footprint", f"one `watch` --interval 1s for {seconds} s: peak RSS", f"{peak_mib:.1f} MiB "
                 f"(at the end: {anon_kib / 1024:.1f} MiB anonymous + {file_kib / 1024:.1f} MiB file-backed)",
                 f"{reference:.1f} MiB (etcdctl get, peak)" if reference else "–", "≤ 16 MiB", peak_mib <= 16)
        self.row("4. footprint", "PSS of each of three `watch` processes (median)", f"{pss_mib:.1f} MiB "
                 f"(RSS {int(status['VmRSS'].split()[0]) / 1024:.1f} MiB)", "–", "≤ 8 MiB", pss_mib <= 8)
        self.row("4. footprint", "CPU seconds per 1 000 checks", f"{cpu_per_1000:.2f} s", "–", "–", None)
        self.row("4. footprint", "etcd writes in steady state", f"{writes}", "–", "0", writes == 0)
        self.details.append(
            f"**Footprint**: one watch for {seconds} s at --interval 1s: {checks} checks, {cpu:.2f} CPU s "
            f"({cpu_per_1000:.2f} s per 1 000 checks), peak RSS (VmHWM) {peak_mib:.1f} MiB; at the end RssAnon "
            f"{anon_kib / 1024:.1f} MiB, RssFile {file_kib / 1024:.1f} MiB, {threads} threads; PSS with three "
            f"watchers running {', '.join(f'{k / 1024:.1f}' for k in pss_kib)} MiB; "
            f"etcd revision advanced by {writes} in steady state."
        )

    @staticmethod
    def _lines(path):
        try:
            with open(path) as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    @staticmethod
    def _proc_status(pid):
        with open(f"/proc/{pid}/status") as f:
            return dict(line.split(":", 1) for line in f if ":" in line)

    @staticmethod
    def _pss_kib(pid):
        """Proportional set size: private pages plus each shared page divided by its sharers."""
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")

    @staticmethod
    def _cpu_seconds(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    # 6. DynamoDB -----------------------------------------------------------------------------------
    def dynamodb(self, runs=10, handoffs=20, queued=5):
        """`--backend dynamodb` against moto on loopback: discovery beside what a script runs today
        (`aws dynamodb query` through jq), and the hand-off, which polls (`--poll-interval` 1 s)."""
        moto = Moto(self.workdir)
        try:
            env = dict(self.env, SERVICE_MONITOR_BACKEND="dynamodb", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
                       AWS_ENDPOINT_URL_DYNAMODB=moto.endpoint, AWS_ENDPOINT_URL=moto.endpoint,
                       AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true",
                       AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials", AWS_CONFIG_FILE="/nonexistent/config")
            command = lambda *args: [self.sm, *args]
            created = run_timed(command("create-table"), env)
            if created.status != 0:
                raise RuntimeError(f"create-table exited {created.status}")
            for size in (50, 1_000):
                label = f"dynamodb{size}"
                moto.put_instances("service-monitor", f"{PREFIX}/{label}", size)
                hosts = command("hosts", "--label", label)
                values = json.dumps({":pk": {"S": f"{PREFIX}/{label}"}, ":i": {"S": "instance#"}})
                query = ["sh", "-c", "aws dynamodb query --table-name service-monitor --consistent-read "
                         "--key-condition-expression 'pk = :pk AND begins_with(sk, :i)' "
                         f"--expression-attribute-values '{values}' --output json "
                         "| jq -r '.Items[].record.S | fromjson | select(.state==\"up\").host' | paste -sd,"]
                for _ in range(2):
                    run_timed(hosts, env), run_timed(query, env)
                ours, theirs, ratios = [], [], []
                for a, b in alternating(hosts, query, runs, env):
                    if a.status != 0 or b.status != 0 or sorted(a.stdout.strip().split(",")) != sorted(b.stdout.strip().split(",")) \
                            or len(a.stdout.strip().split(",")) != size:
                        raise RuntimeError(f"hosts (status {a.status}) and the aws query (status {b.status}) disagree at {size}")
                    ours.append(a.wall), theirs.append(b.wall), ratios.append(a.wall / b.wall)
                ratio = statistics.median(ratios)
                self.row("6. DynamoDB", f"`hosts --backend dynamodb`, {size} instances on moto (median of {runs})",
                         ms(statistics.median(ours)), f"{ms(statistics.median(theirs))} (aws dynamodb query \\| jq \\| paste)",
                         f"ratio {ratio:.2f} ≤ 1.0", ratio <= 1.0)
                self.details.append(
                    f"**DynamoDB discovery, {size} instances** (moto on loopback), {runs} alternating pairs: hosts median "
                    f"{ms(statistics.median(ours))} (min {ms(min(ours))}, max {ms(max(ours))}); aws dynamodb query | jq median "
                    f"{ms(statistics.median(theirs))}; median of per-pair ratios {ratio:.2f}."
                )
            samples = self._handoff_service_monitor(handoffs, queued, command, env, label="dynamodb-handoff")
            p50 = percentile(samples, 0.5)
            self.row("6. DynamoDB", f"hand-off on moto, {queued} queued, {handoffs} hand-offs, --poll-interval 1s: p50 / p99",
                     f"{ms(p50)} / {ms(percentile(samples, 0.99))}", "–", "p50 ≤ 1000 ms (one poll)", p50 <= 1.0)
            self.details.append(
                f"**DynamoDB hand-off**: {len(samples)} hand-offs, p50 {ms(p50)}, p90 {ms(percentile(samples, 0.9))}, "
                f"p99 {ms(percentile(samples, 0.99))}, max {ms(max(samples))}: a waiter learns of the release at its next poll."
            )
        finally:
            moto.stop()

    # 5. Scale --------------------------------------------------------------------------------------
    def scale(self, instances=1000, writers=20, waiters=200):
        label = "scale"
        # 1 000 instances registered by concurrent writers, each with its own lease and connection.
        per_writer = instances // writers
        errors = []

        def writer(number):
            try:
                client = Etcd.__new__(Etcd)
                client.port, client.connection = self.etcd.port, None
                lease = client.grant(600)
                for i in range(number * per_writer, (number + 1) * per_writer):
                    service_id = f"scale-{i}"
                    client.put_many([(f"{PREFIX}/{label}/instances/{service_id}",
                                      instance_record(service_id, f"127.1.{i >> 8}.{i & 255}"))], lease)
            except Exception as error:  # reported below
                errors.append(error)

        started = time.perf_counter()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        registration = time.perf_counter() - started
        if errors:
            raise errors[0]
        listing = run_timed(self.smctl("hosts", "--label", label), self.env)
        listed = len([h for h in listing.stdout.strip().split(",") if h])

        # 200 concurrent waiters with --slots 1: FIFO, wake-ups per release, total hand-off time.
        lease_label = "scale-lease"
        holder = self._acquire(lease_label, "scale-holder")
        holder.wait_exit(30)
        spawned_at = time.perf_counter()
        processes = [self._acquire(lease_label, f"w{n:03d}") for n in range(waiters)]
        queue_prefix = f"{PREFIX}/{lease_label}/startup/queue/"
        self._until(lambda: self.etcd.count(queue_prefix) >= waiters, f"{waiters} waiters queued", timeout=300)
        queued_in = time.perf_counter() - spawned_at
        order = [key.rsplit("/", 1)[1] for key in self.etcd.keys_by_creation(queue_prefix)]
        by_name = {p.name: p for p in processes}
        events_before = self.etcd.metric("etcd_debugging_mvcc_events_total")
        woken_before = sum(p.count("woken: ") for p in processes)
        current, fifo_kept, first_release = "scale-holder", True, None
        for expected in order:
            run_timed(self.smctl("release-lease", "--label", lease_label, "--service-id", current), self.env)
            first_release = first_release or time.perf_counter()
            _, status = by_name[expected].wait_exit(60)
            if status != 0:
                raise RuntimeError(f"{expected} exited {status}")
            early = [p.name for p in processes if p.exited_at is not None and p.name not in order[:order.index(expected) + 1]]
            if early:
                fifo_kept = False
            current = expected
        total = time.perf_counter() - first_release
        run_timed(self.smctl("release-lease", "--label", lease_label, "--service-id", current), self.env)
        events = self.etcd.metric("etcd_debugging_mvcc_events_total") - events_before
        woken = sum(p.count("woken: ") for p in processes) - woken_before
        self.etcd.delete_prefix(f"{PREFIX}/{label}/")
        self.row("5. scale", f"{instances} instances by {writers} concurrent writers", f"registered in {registration:.2f} s; `hosts` lists {listed} in {ms(listing.wall)}",
                 "–", f"all {instances} listed", listed == instances)
        self.row("5. scale", f"{waiters} concurrent waiters, --slots 1", f"FIFO {'kept for all' if fifo_kept else 'BROKEN'}; "
                 f"{events / waiters:.1f} watch events and {woken / waiters:.1f} wake-ups per release; all hand-offs in {total:.1f} s "
                 f"({ms(total / waiters)} each)", "–", "FIFO for all", fifo_kept)
        self.details.append(
            f"**Scale**: {instances} instances put by {writers} concurrent writers in {registration:.2f} s, "
            f"`hosts` listed {listed} in {ms(listing.wall)}. {waiters} acquire-lease processes started at once, "
            f"all queued in {queued_in:.1f} s; {waiters} releases in queue order: FIFO "
            f"{'kept for every waiter' if fifo_kept else 'broken'}; etcd sent {events:.0f} watch events "
            f"({events / waiters:.1f} per release) and waiters logged {woken} wake-ups ({woken / waiters:.1f} per release); "
            f"first release to last acquisition {total:.1f} s ({ms(total / waiters)} per hand-off, release-lease process included)."
        )


# --- facts and report ------------------------------------------------------------------------------

class Moto:
    """moto in server mode on a free loopback port: DynamoDB for `--backend dynamodb`."""

    def __init__(self, workdir):
        self.port = free_ports(1)[0]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "moto.log"), "w")
        # Requests one at a time, as the tests run it (the script says why).
        script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "moto-server.py")
        self.process = subprocess.Popen(["python3", script, "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:  # ready once it answers HTTP
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/moto-api/data.json")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)

    def put_instances(self, table, partition, count):
        """`count` up records in the documented item layout (docs/dynamodb.md), written straight
        into the table, 25 to a batch."""
        import boto3  # moto's own dependency
        client = boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench")
        expires = str(int(time.time()) + 36_000)
        items = []
        for i in range(count):
            service_id = f"{partition.rsplit('/', 1)[-1]}-{i}"
            host = fake_host(i)
            items.append({"PutRequest": {"Item": {
                "pk": {"S": partition}, "sk": {"S": f"instance#{service_id}"},
                "record": {"S": instance_record(service_id, host)}, "owner": {"S": "bench"},
                "order": {"N": str(i)}, "expires": {"N": expires}}}})
        for start in range(0, len(items), 25):
            client.batch_write_item(RequestItems={table: items[start:start + 25]})

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def command_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def machine_facts(service_monitor):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = command_output(["git", "-C", repo, "rev-parse", "--short", "HEAD"])
    if command_output(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    size = os.path.getsize(service_monitor)
    stripped = None
    if shutil.which("strip"):
        with tempfile.NamedTemporaryFile() as copy:
            if subprocess.run(["strip", "-o", copy.name, service_monitor], capture_output=True).returncode == 0:
                stripped = os.path.getsize(copy.name)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "etcd": command_output(["etcd", "--version"]).splitlines()[0],
        "etcdctl": command_output(["etcdctl", "version"]).splitlines()[0],
        "swift": command_output(["swift", "--version"]).splitlines()[0] if shutil.which("swift") else "unknown",
        "binary": f"{size / 2**20:.1f} MiB" + (f" ({stripped / 2**20:.1f} MiB stripped)" if stripped else ""),
    }


def table(rows):
    lines = ["| benchmark | measure | service-monitor | reference (same run) | target | met |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# Where the hand-kept part of the results file starts; everything before it is this run's.
HISTORY_HEADING = "## History"


def evict_from_page_cache(path):
    """Drops the file's clean pages that no process maps from the page cache."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service-monitor", required=True)
    parser.add_argument("--stand-in", required=True)
    parser.add_argument("--results", help="write the markdown report here")
    options = parser.parse_args()
    footprint_seconds = int(os.environ.get("BENCH_FOOTPRINT_SECONDS", "300"))
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    selected = lambda name: not only or name in only

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    facts = machine_facts(options.service_monitor)
    load_before = os.getloadavg()
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="service-monitor-bench.")
    etcd = Etcd(workdir)
    try:
        bench = Bench(options.service_monitor, options.stand_in, etcd, workdir)
        for name, run in (("discovery", bench.discovery), ("handoff", bench.handoff),
                          ("detection", bench.failure_detection), ("footprint", lambda: bench.footprint(footprint_seconds)),
                          ("scale", bench.scale), ("dynamodb", bench.dynamodb)):
            if selected(name):
                log(f"{name} …")
                step = time.monotonic()
                run()
                log(f"{name} done in {time.monotonic() - step:.0f} s")
    finally:
        for process in Background.started:
            process.stop(signal.SIGKILL, timeout=5)
        etcd.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()
    facts["load average"] = f"{load_before[0]:.2f} at start, {load_after[0]:.2f} at end (1 min)"
    facts["duration"] = f"{time.monotonic() - started:.0f} s"

    summary = table(bench.rows)
    print(summary)
    if options.results:
        report = ["# Benchmark results", "",
                  "Written by `./dev bench` (bench/bench.py): the release binary against a throwaway etcd, with "
                  "references measured in the same run. Ratios and percentiles, not timed tests.", ""]
        report += [f"- {name}: {value}" for name, value in facts.items()]
        report += ["", "## Summary", "", summary, "", "## Details", ""]
        for paragraph in bench.details:
            report += [paragraph, ""]
        # The file's history section (earlier runs, changes made from them) survives the rewrite.
        history = ""
        if os.path.exists(options.results):
            with open(options.results) as f:
                previous = f.read()
            start = previous.find("\n" + HISTORY_HEADING + "\n")
            if start >= 0:
                history = previous[start + 1:]
        with open(options.results, "w") as f:
            f.write("\n".join(report) + ("\n" + history if history else ""))
        log(f"wrote {options.results}")


if __name__ == "__main__":
    main()
