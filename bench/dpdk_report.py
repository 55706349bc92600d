#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# results.md of bench/dpdk-fanout.sh: reads DIR/env.txt and DIR/raw/CASE.DATAPLANE.wN.REP.json
# (tern-bench --json reports) and prints the tables: delivered msgs/s per case, worker count
# and dataplane (median over repetitions), the dpdk/sock ratio, latency at a fixed rate.
# usage: dpdk_report.py DIR
import json
import os
import re
import statistics
import sys

NAME = re.compile(r"^(?P<case>.+)\.(?P<dp>dpdk|sock)\.w(?P<w>\d+)\.(?P<rep>\d+)\.json$")


def load(d):
    runs = {}
    for f in sorted(os.listdir(os.path.join(d, "raw"))):
        m = NAME.match(f)
        if not m:
            continue
        with open(os.path.join(d, "raw", f)) as fh:
            j = json.load(fh)
        key = (m["case"], int(m["w"]), m["dp"])
        runs.setdefault(key, []).append(j)
    return runs


def med(reports, get):
    vals = [get(r) for r in reports]
    return statistics.median(vals) if vals else float("nan")


def notes(reports):
    n = []
    lost = sum(r["total"]["lost"] for r in reports)
    expected = sum(r["total"]["expected"] for r in reports)
    if lost:
        n.append("lost %d of %d (%.2f%%)" % (lost, expected, 100.0 * lost / max(expected, 1)))
    if any(not r["ok"] for r in reports):
        n.append("FAILED: " + "; ".join(r["verdict"] for r in reports if not r["ok"]))
    if any(r["bench_saturated"] for r in reports):
        n.append("tern-bench saturated")
    return ", ".join(n)


def main():
    d = sys.argv[1]
    env = open(os.path.join(d, "env.txt")).read()
    quick = "quick: 1" in env
    runs = load(d)
    cases = []
    for c, _, _ in runs:
        if c not in cases:
            cases.append(c)
    workers = sorted({w for _, w, _ in runs})
    out = []
    p = out.append
    p("# Fan-out through the dpdk dataplane vs the sock dataplane%s" % (" (QUICK TRIAL)" if quick else ""))
    p("")
    if quick:
        p("**A quick trial** (1 repetition of 2 s per case): it proves the script end to end. "
          "The figures are not a comparison to rely on, above all on a machine shared with "
          "other work.")
        p("")
    p("**What these numbers mean.** tern runs in one network namespace and tern-bench (the "
      "kernel's TCP) in another, joined by a veth pair. On `dataplane dpdk` the port is "
      "`net_af_packet` on tern's veth end: every frame crosses the kernel's veth and an "
      "AF_PACKET socket (a copy and a syscall per burst each way) before DPDK sees it, so "
      "these figures measure tern's userspace stack and poll loop behind a software port, "
      "not a NIC's speed, and not what the dataplane does with a real poll-mode driver. "
      "On `dataplane sock` the same veth end carries the kernel's own TCP. Both runs share "
      "the client side, its CPUs and the veth; only tern's dataplane differs. A dpdk worker "
      "busy-polls: its broker CPU is near 100% of its core whatever the load, so the CPU "
      "columns compare only for sock.")
    p("")
    p("```")
    p(env.rstrip())
    p("```")
    p("")
    p("QoS 0, 64-byte payloads, 1 publisher; median over repetitions. Ratio = dpdk / sock.")
    p("")
    p("| case | workers | dpdk delivered msgs/s | sock delivered msgs/s | ratio | dpdk p99 us | sock p99 us | sock broker CPU % | notes |")
    p("|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        for w in workers:
            a = runs.get((c, w, "dpdk"), [])
            b = runs.get((c, w, "sock"), [])
            if not a and not b:
                continue
            ra = med(a, lambda r: r["median"]["delivered_rate"]) if a else None
            rb = med(b, lambda r: r["median"]["delivered_rate"]) if b else None
            pa = med(a, lambda r: r["median"]["latency_us"]["p99"]) if a else None
            pb = med(b, lambda r: r["median"]["latency_us"]["p99"]) if b else None
            cpu = med(b, lambda r: r["median"]["broker_cpu_pct"]) if b else None
            ratio = "%.2f" % (ra / rb) if ra and rb else "-"
            n = "; ".join(x for x in ("dpdk: " + notes(a) if a and notes(a) else "",
                                      "sock: " + notes(b) if b and notes(b) else "") if x)
            fmt = lambda v, f="%.0f": "-" if v is None else f % v
            p("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                c, w, fmt(ra), fmt(rb), ratio, fmt(pa), fmt(pb), fmt(cpu, "%.1f"), n))
    lat = [c for c in cases if c.startswith("rate-")]
    if lat:
        p("")
        p("Latency at a fixed rate (microseconds, send to receipt, median over repetitions); "
          "'held' says whether the publisher reached its rate.")
        p("")
        p("| case | workers | dataplane | published msgs/s | held | p50 | p90 | p99 | p99.9 | max |")
        p("|---|---|---|---|---|---|---|---|---|---|")
        for c in lat:
            for w in workers:
                for dp in ("dpdk", "sock"):
                    rs = runs.get((c, w, dp), [])
                    if not rs:
                        continue
                    rate = rs[0]["rate"]
                    pub = med(rs, lambda r: r["median"]["published_rate"])
                    l = lambda k: med(rs, lambda r: r["median"]["latency_us"][k])
                    p("| %s | %d | %s | %.0f | %s | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
                        c, w, dp, pub, "yes" if pub >= 0.95 * rate else "no",
                        l("p50"), l("p90"), l("p99"), l("p999"), l("max")))
    tcp = []
    for w in workers:
        try:
            log = open(os.path.join(d, "dpdk.w%d.log" % w)).read()
        except OSError:
            continue
        for m in re.finditer(r"dpdk: worker (\d+) tcp: (.*)", log):
            keep = [kv for kv in m[2].split()
                    if kv.split("=")[0] in ("seg_in", "seg_out", "retransmits", "rto_timeouts",
                                            "fast_retransmits", "tx_errors")]
            tcp.append("| %d | %s | %s |" % (w, m[1], " ".join(keep)))
    if tcp:
        p("")
        p("The dpdk dataplane's TCP counters over all its cases (tern's log at exit). "
          "Retransmissions are segments lost or taken for lost somewhere on the path "
          "(tern's TX queue, AF_PACKET's rings, the veth, the client's socket); each one "
          "that fast retransmit does not recover waits for the retransmission timer "
          "(200 ms at least) and shows in the p99 and max latencies. This script does not "
          "find out where they were lost.")
        p("")
        p("| workers | worker | counters |")
        p("|---|---|---|")
        out.extend(tcp)
    p("")
    p("Raw tern-bench reports: `raw/CASE.DATAPLANE.wWORKERS.REP.json`; tern's config and log "
      "per dataplane and worker count: `DATAPLANE.wWORKERS.conf`, `.log`.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
