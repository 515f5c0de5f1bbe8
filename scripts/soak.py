#!/usr/bin/env python3
"""Soak test: many `service-monitor watch` processes on a three-member etcd cluster whose members
are restarted at random, for minutes. Run through `./dev soak` (it builds first).

With `--mode partition` the members are not killed but cut off by the network: each runs in a
network namespace of its own on one bridge (a private 10.x.y.0/24; the watchers and etcdctl stay
in this namespace, joined to the bridge as .254), and at random one member is cut, by nftables
rules that drop packets silently, either from the other two members (a minority it still serves
the watchers from) or from everyone, for 1-5 s. Needs root, iproute2 and nftables.

Checks, continuously:
  - no registration is lost: an etcd watch on the instances prefix sees no DELETE, and a range
    every few seconds finds every instance registered and up;
  - no watcher exits;
  - memory stays flat: each watcher's RSS (and open file descriptors) is sampled; the mean of the
    last quarter of the run is compared with the first quarter.
Prints a table of figures and exits 1 when a check failed.

Everything runs on loopback ports that were free, in a temporary directory deleted afterwards;
only the processes started here are ever signalled.
"""

import argparse
import base64
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

LABEL = "soak"
PREFIX = f"/service-monitor/{LABEL}/instances/"
# Lost registrations look like this in a watcher's console log (MessageID.etcdLost).
ETCD_LOST_ID = "MESSAGE_ID=7fa01b2c3d4e4f5a9b8c7d6e5f4a3b2c"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_ports(count):
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


class Network:
    """Hosts as network namespaces on one bridge, this namespace joined as the observer (.254);
    cut() drops a host's packets to and from some addresses silently (nftables, both directions)."""

    def __init__(self, size):
        self.base = f"smsoak-{os.getpid()}"
        routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True, check=True).stdout
        while True:
            subnet = f"10.{random.randrange(100, 250)}.{random.randrange(256)}"
            if subnet + "." not in routes:
                break
        self.hosts = [(f"{self.base}-h{i + 1}", f"{subnet}.{i + 1}") for i in range(size)]
        self.observer = f"{subnet}.254"
        self.bridge = f"{self.base}-br"
        steps = [["netns", "add", self.bridge], ["-n", self.bridge, "link", "add", "br0", "type", "bridge"],
                 ["-n", self.bridge, "link", "set", "br0", "up"]]
        for index, (namespace, address) in enumerate(self.hosts):
            steps += [
                ["netns", "add", namespace],
                ["link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", f"h{index + 1}", "netns", self.bridge],
                ["-n", self.bridge, "link", "set", f"h{index + 1}", "master", "br0", "up"],
                ["-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0"],
                ["-n", namespace, "link", "set", "eth0", "up"],
                ["-n", namespace, "link", "set", "lo", "up"],
            ]
        interface = f"sms{os.getpid():x}"[:15]
        steps += [["link", "add", interface, "type", "veth", "peer", "name", "observer", "netns", self.bridge],
                  ["-n", self.bridge, "link", "set", "observer", "master", "br0", "up"],
                  ["addr", "add", f"{self.observer}/24", "dev", interface], ["link", "set", interface, "up"]]
        try:
            for step in steps:
                subprocess.run(["ip"] + step, check=True, capture_output=True)
        except BaseException:
            self.remove()
            raise

    def cut(self, index, addresses):
        rules = ("table inet partition {}\ndelete table inet partition\ntable inet partition {\n"
                 " chain input {\n  type filter hook input priority 0; policy accept;\n"
                 f"  ip saddr {{ {', '.join(addresses)} }} drop\n }}\n"
                 " chain output {\n  type filter hook output priority 0; policy accept;\n"
                 f"  ip daddr {{ {', '.join(addresses)} }} drop\n }}\n}}\n")
        subprocess.run(["ip", "netns", "exec", self.hosts[index][0], "nft", "-f", "-"], input=rules, text=True, check=True)

    def heal(self, index):
        subprocess.run(["ip", "netns", "exec", self.hosts[index][0], "nft", "-f", "-"],
                       input="table inet partition {}\ndelete table inet partition\n", text=True, check=True)

    def remove(self):
        # Removing the bridge's namespace removes the observer's veth (and its route) too.
        for namespace in [n for n, _ in self.hosts] + [self.bridge]:
            pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)


class Cluster:
    """Three etcd members on loopback (or each in a host of `network`); kill and restart one at a time."""

    def __init__(self, directory, size=3, network=None):
        self.directory = directory
        self.network = network
        ports = free_ports(2 * size)
        self.members = []
        for index in range(size):
            host = network.hosts[index][1] if network else "127.0.0.1"
            client, peer = (2379, 2380) if network else (ports[2 * index], ports[2 * index + 1])
            self.members.append({
                "name": f"m{index}",
                "client": f"http://{host}:{client}",
                "peer": f"http://{host}:{peer}",
                "data": os.path.join(directory, f"m{index}.data"),
                "log": os.path.join(directory, f"m{index}.log"),
            })
        self.processes = [None] * size
        self.initial_cluster = ",".join(f"{m['name']}={m['peer']}" for m in self.members)

    @property
    def endpoints(self):
        return [m["client"] for m in self.members]

    def launch(self, index, state):
        m = self.members[index]
        with open(m["log"], "ab") as output:
            inside = ["ip", "netns", "exec", self.network.hosts[index][0]] if self.network else []
            self.processes[index] = subprocess.Popen(inside + [
                "etcd", "--name", m["name"], "--data-dir", m["data"],
                "--listen-client-urls", m["client"], "--advertise-client-urls", m["client"],
                "--listen-peer-urls", m["peer"], "--initial-advertise-peer-urls", m["peer"],
                "--initial-cluster", self.initial_cluster, "--initial-cluster-state", state,
                "--initial-cluster-token", os.path.basename(self.directory),
                "--logger", "zap", "--log-level", "error",
                "--heartbeat-interval", "100", "--election-timeout", "1000",
            ], stdin=subprocess.DEVNULL, stdout=output, stderr=output)

    def start(self):
        for index in range(len(self.members)):
            self.launch(index, "new")
        self.wait_healthy(range(len(self.members)))

    def kill(self, index):
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.processes[index] = None

    def restart(self, index):
        self.launch(index, "existing")
        self.wait_healthy([index])

    def etcdctl(self, arguments, members=None, timeout=10):
        endpoints = [self.members[i]["client"] for i in (members if members is not None else range(len(self.members)))]
        return subprocess.run(
            ["etcdctl", f"--endpoints={','.join(endpoints)}", "--dial-timeout=2s", "--command-timeout=5s"] + arguments,
            env=dict(os.environ, ETCDCTL_API="3"), capture_output=True, text=True, timeout=timeout,
        )

    def wait_healthy(self, indices, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.etcdctl(["endpoint", "health"], members=list(indices)).returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"etcd members {list(indices)} not healthy within {timeout}s")

    def leader(self):
        """Index of the leader as the running members report it, or None."""
        running = [i for i, p in enumerate(self.processes) if p is not None]
        result = self.etcdctl(["endpoint", "status", "-w", "fields"], members=running)
        member_id = leader = None
        ids = {}
        for line in result.stdout.splitlines():
            key, _, value = line.partition(" : ")
            value = value.strip().strip('"')
            if key == '"MemberID"':
                member_id = value
            elif key == '"Leader"':
                leader = value
            elif key == '"Endpoint"':
                ids[member_id] = value
        url = ids.get(leader)
        return self.endpoints.index(url) if url in self.endpoints else None

    def stop(self):
        for index, process in enumerate(self.processes):
            if process is not None:
                process.kill()
                process.wait()
                self.processes[index] = None


class DeleteWatch(threading.Thread):
    """`etcdctl watch` on the instances prefix, restarted from the last revision if it ends;
    records every DELETE and every PUT that moved a key to another lease (registered anew)."""

    def __init__(self, cluster, start_revision):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.next_revision = start_revision
        self.deletes = []
        self.new_leases = []
        self.leases = {}
        self.events = 0
        self.restarts = 0
        self.process = None
        self.stopping = False
        self.lock = threading.Lock()

    def run(self):
        while not self.stopping:
            self.process = subprocess.Popen(
                ["etcdctl", f"--endpoints={','.join(self.cluster.endpoints)}", "watch", "--prefix", PREFIX,
                 f"--rev={self.next_revision}", "-w", "json"],
                env=dict(os.environ, ETCDCTL_API="3"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            for line in self.process.stdout:
                try:
                    response = json.loads(line)
                except ValueError:
                    continue
                for event in response.get("Events") or []:
                    kv = event["kv"]
                    key = base64.b64decode(kv["key"]).decode()
                    revision = int(kv.get("mod_revision", 0))
                    with self.lock:
                        self.events += 1
                        self.next_revision = max(self.next_revision, revision + 1)
                        if event.get("type") == 1 or event.get("type") == "DELETE":
                            self.deletes.append((time.strftime("%H:%M:%S"), key))
                        else:
                            lease = int(kv.get("lease", 0))
                            if key in self.leases and self.leases[key] != lease:
                                self.new_leases.append((time.strftime("%H:%M:%S"), key))
                            self.leases[key] = lease
            self.process.wait()
            if not self.stopping:
                self.restarts += 1
                time.sleep(0.5)

    def stop(self):
        self.stopping = True
        if self.process and self.process.poll() is None:
            self.process.terminate()


def read_status(pid):
    """(RSS in KiB, open fds) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


def quartile_means(samples):
    """Means of the first and last quarter of a time series (at least one sample each)."""
    quarter = max(1, len(samples) // 4)
    return statistics.mean(samples[:quarter]), statistics.mean(samples[-quarter:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory holding service-monitor and stand-in-service")
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "5")))
    parser.add_argument("--watchers", type=int, default=int(os.environ.get("SOAK_WATCHERS", "100")))
    parser.add_argument("--services", type=int, default=4, help="stand-in services the watchers check")
    parser.add_argument("--ttl", default="5s")
    parser.add_argument("--interval", default="2s")
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="percent; last vs first quarter")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--mode", choices=["kill", "partition"], default=os.environ.get("SOAK_MODE", "kill"),
                        help="kill -9 and restart members (default), or cut them off by the network")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)

    monitor = os.path.join(options.bin, "service-monitor")
    stand_in = os.path.join(options.bin, "stand-in-service")
    directory = tempfile.mkdtemp(prefix="service-monitor-soak.")
    network = Network(3) if options.mode == "partition" else None
    cluster = Cluster(directory, network=network)
    services, watchers = [], []
    watch = None
    failures = []
    try:
        log(f"soak: {options.watchers} watchers, {options.minutes:g} min, seed {seed}, in {directory}")
        cluster.start()

        for index in range(options.services):
            process = subprocess.Popen(
                [stand_in, "--listen", "127.0.0.1:0", "--status-file", os.path.join(directory, f"status-{index}")],
                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            )
            first = process.stdout.readline()
            if not first.startswith("listening on "):
                raise RuntimeError(f"stand-in-service did not start: {first!r}")
            services.append((process, int(first.split()[2])))

        endpoints = cluster.endpoints
        for index in range(options.watchers):
            # Spread the members the watchers start on, and the hosts they announce.
            rotation = endpoints[index % 3:] + endpoints[:index % 3]
            stderr = open(os.path.join(directory, f"watch-{index:03}.log"), "wb")
            process = subprocess.Popen([
                monitor, "watch", "--endpoints", ",".join(rotation), "--label", LABEL, "--service-id", f"w-{index:03}",
                "--monitor-url", f"http://127.0.0.1:{services[index % len(services)][1]}/",
                "--interval", options.interval, "--timeout", "1s", "--ttl", options.ttl,
                "--host-ip", f"127.0.{1 + index // 250}.{1 + index % 250}", "--log-target", "console",
            ], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                env={k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC")})
            watchers.append((f"w-{index:03}", process, stderr.name))

        def registered():
            result = cluster.etcdctl(["get", "--prefix", PREFIX, "-w", "json"])
            if result.returncode != 0:
                return None, None, None
            response = json.loads(result.stdout)
            states = [json.loads(base64.b64decode(kv["value"]))["state"] for kv in response.get("kvs") or []]
            return len(states), sum(1 for s in states if s == "up"), int(response["header"]["revision"])

        deadline = time.monotonic() + 120
        while True:
            count, up, revision = registered()
            if count == options.watchers and up == options.watchers:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {count} of {options.watchers} registered up within 120 s")
            time.sleep(1)
        disruption = "restarting random members" if network is None else "partitioning random members"
        log(f"all {options.watchers} registered up; {disruption} for {options.minutes:g} min")

        watch = DeleteWatch(cluster, revision + 1)
        watch.start()

        started = time.monotonic()
        end = started + options.minutes * 60
        restarts, leader_kills = 0, 0
        partitions = {"minority": 0, "isolated": 0}
        downtime = []
        samples = {name: [] for name, _, _ in watchers}   # (rss KiB, fds) per sample round
        totals = []
        checks, short_checks, min_registered = 0, 0, options.watchers
        exited = {}
        stop = threading.Event()
        flapping_watchers = len(range(0, options.watchers, options.services))

        def sampler():
            nonlocal checks, short_checks, min_registered
            while not stop.wait(5):
                total = 0
                for name, process, _ in watchers:
                    if process.poll() is not None:
                        exited.setdefault(name, process.returncode)
                        continue
                    status = read_status(process.pid)
                    if status:
                        samples[name].append(status)
                        total += status[0]
                totals.append(total)
                try:
                    count, up, _ = registered()
                except (subprocess.TimeoutExpired, ValueError):
                    count = None
                if count is not None:
                    checks += 1
                    min_registered = min(min_registered, count)
                    # Those checking the flapping service may be down; everyone must be registered.
                    if count < options.watchers or up < options.watchers - flapping_watchers:
                        short_checks += 1
                        log(f"range: {count} registered, {up} up")

        sampling = threading.Thread(target=sampler, daemon=True)
        sampling.start()

        # One service flaps between 503 and 200, so records are written while members restart.
        flaps = 0
        flap_file = os.path.join(directory, "status-0")

        def flapper():
            nonlocal flaps
            status = 200
            while not stop.wait(rng.uniform(3, 8)):
                status = 503 if status == 200 else 200
                with open(flap_file + ".tmp", "w") as f:
                    f.write(f"{status}\n")
                os.replace(flap_file + ".tmp", flap_file)
                flaps += 1
            with open(flap_file + ".tmp", "w") as f:
                f.write("200\n")
            os.replace(flap_file + ".tmp", flap_file)

        flapping = threading.Thread(target=flapper, daemon=True)
        flapping.start()

        while time.monotonic() < end:
            time.sleep(rng.uniform(5, 15))
            if time.monotonic() >= end:
                break
            victim = rng.randrange(3)
            was_leader = cluster.leader() == victim
            down = rng.uniform(1, 5)
            if network is not None:
                # A minority the watchers still reach, or a member gone silent for everyone.
                kind = rng.choice(["minority", "isolated"])
                peers = [network.hosts[i][1] for i in range(3) if i != victim]
                network.cut(victim, peers + ([network.observer] if kind == "isolated" else []))
                time.sleep(down)
                network.heal(victim)
                partitions[kind] += 1
                restarts += 1
                leader_kills += was_leader
                downtime.append(down)
                log(f"healed m{victim}{' (the leader)' if was_leader else ''} after {down:.1f} s {kind}; "
                    f"{len(watch.deletes)} deletes, {len(exited)} exited so far")
                continue
            cluster.kill(victim)
            time.sleep(down)
            killed_at = time.monotonic()
            cluster.restart(victim)
            restarts += 1
            leader_kills += was_leader
            downtime.append(down + time.monotonic() - killed_at)
            log(f"restarted m{victim}{' (the leader)' if was_leader else ''} after {downtime[-1]:.1f} s down; "
                f"{len(watch.deletes)} deletes, {len(exited)} exited so far")

        stop.set()
        sampling.join()
        flapping.join()
        elapsed = time.monotonic() - started
        # The flapping service is healthy again: everyone must come back up.
        deadline = time.monotonic() + 30
        while True:
            count, up, _ = registered()
            if (count, up) == (options.watchers, options.watchers) or time.monotonic() > deadline:
                break
            time.sleep(1)

        # Memory: per-watcher RSS, first vs last quarter of the samples.
        growths, fd_growths, rss_first, rss_last = [], [], [], []
        for name, series in samples.items():
            if len(series) >= 4:
                first, last = quartile_means([s[0] for s in series])
                growths.append(100.0 * (last - first) / first)
                rss_first.append(first)
                rss_last.append(last)
                first_fds, last_fds = quartile_means([s[1] for s in series])
                fd_growths.append(last_fds - first_fds)
        total_first, total_last = quartile_means(totals) if totals else (0, 0)
        lost_logged = sum(1 for _, _, path in watchers if ETCD_LOST_ID in open(path, errors="replace").read())

        deletes_during = len(watch.deletes)
        # Stop everyone: SIGTERM deregisters at once and exits 0.
        for _, process, _ in watchers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        bad_exits = 0
        for name, process, _ in watchers:
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = "hung"
            if name not in exited and code != 0:
                bad_exits += 1
        left_over, _, _ = registered()
        # The watch saw the deregistrations: it was alive and parsing to the end.
        deadline = time.monotonic() + 15
        while len(watch.deletes) < options.watchers and time.monotonic() < deadline:
            time.sleep(0.5)
        watch.stop()
        deletes_at_stop = len(watch.deletes)

        rows = [
            ("duration", f"{elapsed / 60:.1f} min"),
            ("watchers", f"{options.watchers} (--interval {options.interval}, --ttl {options.ttl}), {options.services} stand-in services"),
            ("member restarts (kill -9)" if network is None else "member partitions (silent drops)",
             f"{restarts}, {leader_kills} of them the leader; down {min(downtime, default=0):.1f}-{max(downtime, default=0):.1f} s each"
             + ("" if network is None else f"; {partitions['minority']} minority, {partitions['isolated']} cut from everyone")),
            ("registrations lost (DELETE events)", f"{deletes_during}"),
            ("registered anew (new lease)", f"{len(watch.new_leases)}; {lost_logged} watchers logged 'etcd lost'"),
            ("range checks (every 5 s)", f"{checks}, {short_checks} found an instance missing or wrongly down; minimum registered {min_registered}"),
            ("health flaps of one service", f"{flaps} ({flapping_watchers} watchers check it)"),
            ("instance events seen by the watch", f"{watch.events} (watch reopened {watch.restarts} times); {deletes_at_stop - deletes_during} deletes on SIGTERM"),
            ("watchers exited during the soak", f"{len(exited)}" + (f" {sorted(exited.items())[:5]}" if exited else "")),
            ("RSS per watcher, first -> last quarter", f"{statistics.mean(rss_first) / 1024:.1f} -> {statistics.mean(rss_last) / 1024:.1f} MiB (mean)" if rss_first else "no samples"),
            ("RSS growth per watcher", f"median {statistics.median(growths):+.1f} %, max {max(growths):+.1f} %" if growths else "no samples"),
            ("RSS of all watchers", f"{total_first / 1024:.0f} -> {total_last / 1024:.0f} MiB"),
            ("open fds per watcher, change", f"median {statistics.median(fd_growths):+.1f}, max {max(fd_growths):+.1f}" if fd_growths else "no samples"),
            ("after SIGTERM", f"{bad_exits} non-zero exits; {left_over} records left"),
        ]
        width = max(len(k) for k, _ in rows)
        print()
        print(f"{'figure':<{width}}  value")
        print(f"{'-' * width}  {'-' * 40}")
        for key, value in rows:
            print(f"{key:<{width}}  {value}")
        print()

        if deletes_during:
            failures.append(f"{deletes_during} registrations disappeared, first {watch.deletes[:3]}")
        if deletes_at_stop - deletes_during != options.watchers:
            failures.append(f"the watch saw {deletes_at_stop - deletes_during} deletes on SIGTERM, not {options.watchers}")
        if short_checks:
            failures.append(f"{short_checks} range checks found an instance missing or wrongly down")
        if exited:
            failures.append(f"{len(exited)} watchers exited during the soak: {sorted(exited.items())[:5]}")
        if growths and statistics.median(growths) > options.max_rss_growth:
            failures.append(f"median RSS growth {statistics.median(growths):.1f} % > {options.max_rss_growth} %")
        if count != options.watchers or up != options.watchers:
            failures.append(f"at the end {count} registered, {up} up")
        if bad_exits or left_over:
            failures.append(f"after SIGTERM: {bad_exits} non-zero exits, {left_over} records left")
    except BaseException:
        failures.append("soak aborted")
        raise
    finally:
        if watch:
            watch.stop()
        for _, process, _ in watchers:
            if process.poll() is None:
                process.kill()
                process.wait()
        for process, _ in services:
            process.kill()
            process.wait()
        cluster.stop()
        if network is not None:
            network.remove()
        if failures and os.environ.get("SOAK_KEEP"):
            log(f"logs kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    for failure in failures:
        print(f"soak: FAILED: {failure}", file=sys.stderr)
    print("soak: passed" if not failures else "soak: failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
