# SPDX-License-Identifier: MIT
"""Report of bench/compare.sh: reads RESULTS_DIR/raw/*.json (one tern-bench run each,
named CASE.BROKER.REP.json) and writes RESULTS_DIR/results.md (medians, tern/mosquitto
ratios, the issue's targets marked met or not), the gnuplot data files and the PNGs
throughput_ratio.png and latency.png.

usage: compare_report.py RESULTS_DIR
"""

import glob
import json
import os
import statistics
import subprocess
import sys

MOSQ = ('mosquitto', 'mosquitto-nodelay')

# Throughput targets: tern's delivered msgs/s at least this multiple of mosquitto's best.
RATIO_TARGETS = {
    'fanout-1-1': 20, 'fanout-1-100': 40, 'fanout-1-1000': 20,
    'pairs-100-q0': 20, 'pairs-100-q1': 20,
    'fanin-100-q0': 11, 'fanin-100-q1': 15,
}
P99_TARGET_US = {'rate-1-100@1000': 300.0}
# No decay: the last rounds whose median is compared (one 5 s round varies by 20% here).
DECAY_TAIL = 3
ORDER = ['fanout-1-1', 'fanout-1-100', 'fanout-1-1000', 'fanout-1-100-1KiB',
         'pairs-100-q0', 'pairs-100-q1', 'pairs-100-q0-1KiB', 'fanin-100-q0',
         'fanin-100-q1', 'rate-1-1@1000', 'rate-1-100@1000', 'rate-1-1000@100']


def load(outdir):
    runs = {}  # (case, broker) -> [json...]
    for path in sorted(glob.glob(os.path.join(outdir, 'raw', '*.json'))):
        base = os.path.basename(path)[:-len('.json')]
        case, broker, rep = base.rsplit('.', 2)
        with open(path, encoding='utf-8') as f:
            runs.setdefault((case, broker), []).append(json.load(f))
    return runs


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, unit=''):
    if v is None:
        return 'n/a'
    if abs(v) >= 100:
        return '{:,.0f}{}'.format(v, unit)
    return '{:.2f}{}'.format(v, unit)


def verdict(ok):
    return '**met**' if ok else '**not met**'


def tput(js):
    return med([j['median']['delivered_rate'] for j in js if 'median' in j])


def cpu(js):
    v = med([j['median']['broker_cpu_pct'] for j in js if 'median' in j])
    return v if v is not None and v > 0 else None


def per_cpu(js):
    """Delivered messages per second of broker CPU time: what a loaded machine cannot blur."""
    t, c = tput(js), cpu(js)
    return t / (c / 100.0) if t is not None and c else None


def p(js, key):
    return med([j['median']['latency_us'][key] for j in js if 'median' in j])


def flags(js):
    """Notes on a broker's runs: loss, failures, tern-bench saturation."""
    notes = []
    lost = sum(j.get('total', {}).get('lost', 0) for j in js)
    qos = js[0].get('qos', 0) if js else 0
    if lost:
        notes.append('lost {:,}{}'.format(lost, ' (QoS %d: FAIL)' % qos if qos else ''))
    failed = [j['verdict'] for j in js if not j.get('ok') and 'lost' not in j['verdict']]
    notes += failed[:1]
    if any(j.get('bench_saturated') for j in js):
        notes.append('tern-bench saturated')
    return notes


def main():
    outdir = sys.argv[1]
    runs = load(outdir)
    env = ''
    if os.path.exists(os.path.join(outdir, 'env.txt')):
        with open(os.path.join(outdir, 'env.txt'), encoding='utf-8') as f:
            env = f.read()
    quick = 'QUICK' in env
    md = []
    md.append('# tern vs mosquitto: %s\n' % ('QUICK TRIAL' if quick else 'comparison'))
    if quick:
        md.append('> **This is a quick trial of bench/compare.sh** (1 repetition, 2 s runs, '
                  'on a shared machine under load from other work). It shows that the script '
                  'works end to end; its numbers are not the comparison. Run '
                  '`bench/compare.sh` without `--quick` on a quiet machine for that.\n')
    md.append('```\n' + env + '```\n')
    md.append('tern: 1 worker. mosquitto: its defaults and a second instance with '
              '`set_tcp_nodelay true`; the better of the two counts per case (column '
              '"variant"). All three with `max_inflight_messages 1000`, '
              '`max_queued_messages 1000000` and error/warning logging only; one long-lived '
              'broker each for all cases. Figures are medians over the repetitions. '
              'Throughput = delivered msgs/s (messages received by all subscribers).\n')

    # Throughput.
    md.append('## Throughput (max rate, QoS 0 unless the case says q1, 64 B unless 1KiB)\n')
    md.append('"CPU" is the broker\'s CPU use over the window (% of one core, from /proc); '
              '"per CPU-s" divides throughput by it: deliveries per second of broker CPU '
              'time, a figure much less sensitive to load from other work on the machine '
              'than msgs/s. The target is judged on the plain ratio.\n')
    md.append('| case | tern msgs/s | tern CPU | mosquitto msgs/s (variant) | mosquitto CPU | '
              'ratio | ratio per CPU-s | target | notes |')
    md.append('|---|---:|---:|---:|---:|---:|---:|---|---|')
    ratio_rows = []
    for case in ORDER:
        if case.startswith('rate-'):
            continue
        t = runs.get((case, 'tern'))
        if not t:
            continue
        tv = tput(t)
        best, bname = None, None
        for m in MOSQ:
            v = tput(runs.get((case, m), []))
            if v is not None and (best is None or v > best):
                best, bname = v, m
        ratio = tv / best if tv is not None and best else None
        mjs = runs.get((case, bname), []) if bname else []
        pt, pm = per_cpu(t), per_cpu(mjs)
        cratio = pt / pm if pt and pm else None
        target = RATIO_TARGETS.get(case)
        tnotes = flags(t)
        tgt = ''
        if target:
            ok = ratio is not None and ratio >= target
            if case.endswith('q1'):
                ok = ok and not any(j['total']['lost'] for j in t)
                tgt = '>= %dx, zero loss: %s' % (target, verdict(ok))
            else:
                tgt = '>= %dx: %s' % (target, verdict(ok))
        notes = ['tern: ' + n for n in tnotes]
        notes += ['%s: %s' % (m, n) for m in MOSQ for n in flags(runs.get((case, m), []))]
        md.append('| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s |' % (
            case, fmt(tv), fmt(cpu(t), '%'), fmt(best), bname or '-', fmt(cpu(mjs), '%'),
            fmt(ratio, 'x'), fmt(cratio, 'x'), tgt or '-', '; '.join(notes)))
        ratio_rows.append((case, ratio or 0.0, target or 0))
    md.append('')

    # Latency at fixed rates.
    md.append('## Latency at a fixed rate (QoS 0, 64 B; microseconds)\n')
    md.append('A broker that cannot keep up holds back the publisher (the in-flight window is '
              'full): then "notes" says the rate was not held and the percentiles measure its '
              'queue, not its latency.\n')
    md.append('| case | broker | msgs/s delivered | p50 | p90 | p99 | p99.9 | max | target | '
              'notes |')
    md.append('|---|---|---:|---:|---:|---:|---:|---:|---|---|')
    lat_rows = []
    for case in ORDER:
        if not case.startswith('rate-'):
            continue
        best = None
        for m in MOSQ:
            v = p(runs.get((case, m), []), 'p99')
            if v is not None and (best is None or v < best[0]):
                best = (v, m)
        for b in ['tern'] + ([best[1]] if best else []):
            js = runs.get((case, b))
            if not js:
                continue
            vals = [p(js, k) for k in ('p50', 'p90', 'p99', 'p999', 'max')]
            tgt = '-'
            if b == 'tern' and case in P99_TARGET_US:
                lim = P99_TARGET_US[case]
                tgt = 'p99 <= %.1f ms: %s' % (lim / 1000, verdict(vals[2] is not None and
                                                                  vals[2] <= lim))
            pub = med([j['median']['published_rate'] for j in js])
            notes = flags(js)
            if pub is not None and pub < 0.95 * js[0]['rate']:
                notes.append('rate not held: published %s of %s msgs/s' % (
                    fmt(pub), fmt(js[0]['rate'])))
            md.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                case, b, fmt(tput(js)), *[fmt(v) for v in vals], tgt, '; '.join(notes)))
            lat_rows.append((case, b, vals))
    md.append('')

    # Connections.
    conn = {b: runs.get(('conn-10k', b)) for b in ('tern',) + MOSQ}
    if conn['tern']:
        md.append('## 10,000 idle connections (fresh brokers: this case runs first)\n')
        md.append('| broker | connections/s (median) | broker memory per idle connection (B, first repetition) |')
        md.append('|---|---:|---:|')
        per = {}
        for b, js in conn.items():
            if not js:
                continue
            rate = med([j['median']['connect_rate'] for j in js])
            # Only the first repetition meets a fresh broker: later ones reuse the memory
            # the first one's connections left to the allocator, and show next to nothing.
            per[b] = js[0]['median']['bytes_per_conn']
            md.append('| %s | %s | %s |' % (b, fmt(rate), fmt(per[b])))
        mos = [v for k, v in per.items() if k != 'tern' and v]
        if per.get('tern') is not None and mos:
            md.append('\nTarget: memory per idle connection no more than mosquitto\'s: %s '
                      '(tern %s B, mosquitto %s B).\n' % (
                          verdict(per['tern'] <= min(mos)), fmt(per['tern']), fmt(min(mos))))
        md.append('')

    # No decay.
    nd_lines = []
    controlled = False
    for b in ('tern', 'mosquitto'):
        rounds = decay_rounds(outdir, b)
        if not rounds:
            continue
        fresh = decay_rounds(outdir, b + '-fresh')
        rss = {}
        with open(os.path.join(outdir, 'raw', 'no-decay.%s.rss' % b), encoding='utf-8') as f:
            for line in f:
                parts = line.split()
                if parts[0] == 'idle_rss_kb':
                    rss[0] = int(parts[1])
                else:
                    rss[int(parts[1])] = int(parts[2])
        last = max(rss)
        if len(fresh) == len(rounds):
            # The long-lived broker's last rounds against brokers started for the same
            # rounds: the machine's drift between the first and the last round cancels.
            controlled = True
            tail = min(DECAY_TAIL, len(rounds))
            kept = med(rounds[-tail:]) / med(fresh[-tail:])
            fresh_cell = '%s | %.2f' % (fmt(med(fresh[-tail:])), kept)
        else:  # results from before the fresh brokers: the last round against the first
            kept = rounds[-1] / rounds[0]
            fresh_cell = '- | -'
        tput_ok = kept >= 0.9
        mem_ok = rss[last] <= rss[1] * 1.10
        nd_lines.append('| %s | %s | %s | %s | %s | %s kB | %s kB | %s kB | %s | %s |' % (
            b, len(rounds), fmt(rounds[0]), fmt(rounds[-1]), fresh_cell, rss[0], rss[1],
            rss[last], verdict(tput_ok), verdict(mem_ok)))
    if nd_lines:
        md.append('## No decay: rounds of connect, fan-out 1->100 at max rate, disconnect\n')
        if controlled:
            md.append('Each round on the long-lived broker is followed by the same round on a '
                      'broker started for it. Targets (tern): the long-lived broker\'s last %d '
                      'rounds reach at least 90%% of the fresh brokers\' in the same rounds '
                      '(medians; "kept" is the ratio); idle RSS after the last round within '
                      '10%% of the idle RSS after the first.\n' % DECAY_TAIL)
        else:
            md.append('Targets (tern): the last round\'s throughput within 10% of the first; '
                      'idle RSS after the last round within 10% of the idle RSS after the '
                      'first.\n')
        md.append('| broker | rounds | first msgs/s | last msgs/s | fresh brokers, last rounds '
                  '| kept | RSS before | idle RSS after round 1 | idle RSS after last | '
                  'throughput | memory |')
        md.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|')
        md += nd_lines
        md.append('')

    sat = sorted({c for (c, b), js in runs.items() if any(j.get('bench_saturated') for j in js)})
    md.append('## tern-bench itself\n')
    if sat:
        md.append('tern-bench saturated its core (a thread at >= 90%% of a CPU) in: %s. '
                  'There the figure is a lower bound of the broker\'s capacity.\n' %
                  ', '.join(sat))
    else:
        md.append('tern-bench never saturated its core (every thread below 90% of a CPU in '
                  'every window): the figures are the brokers\'.\n')
    md.append('## Plots\n')
    md.append('![throughput ratio](throughput_ratio.png)\n')
    md.append('![latency at fixed rate](latency.png)\n')
    md.append('Raw tern-bench JSON for every run: `raw/CASE.BROKER.REP.json`; broker configs '
              'and logs next to this file.\n')
    with open(os.path.join(outdir, 'results.md'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(md))

    plots(outdir, ratio_rows, lat_rows)


def decay_rounds(outdir, run):
    """Delivered msgs/s of the no-decay rounds on RUN (a broker, or BROKER-fresh), in order."""
    files = sorted(glob.glob(os.path.join(outdir, 'raw', 'no-decay.%s.*.json' % run)),
                   key=lambda s: int(s.rsplit('.', 2)[1]))
    rounds = []
    for fpath in files:
        with open(fpath, encoding='utf-8') as f:
            rounds.append(json.load(f)['median']['delivered_rate'])
    return rounds


def plots(outdir, ratio_rows, lat_rows):
    """throughput_ratio.png (bars, targets as points) and latency.png (one line per broker
    and case over p50..p99.9, log scale), each from .dat files kept next to them."""
    with open(os.path.join(outdir, 'throughput_ratio.dat'), 'w', encoding='utf-8') as f:
        f.write('# case ratio target\n')
        for case, ratio, target in ratio_rows:
            f.write('%s %.4f %s\n' % (case, ratio, target if target else 'NaN'))
    lines = []
    for i, (case, b, vals) in enumerate(lat_rows):
        name = 'latency_%d.dat' % i
        with open(os.path.join(outdir, name), 'w', encoding='utf-8') as f:
            f.write('# %s on %s: percentile index (p50 p90 p99 p99.9), microseconds\n' %
                    (case, b))
            for x, v in enumerate(vals[:4]):
                f.write('%d %s\n' % (x, '%.3f' % v if v else 'NaN'))
        lines.append("'%s' using 1:2 with linespoints lw 2 pt 7 title '%s %s'" % (name, b, case))
    gp = ["set terminal pngcairo size 1100,520 noenhanced"]
    if ratio_rows:  # a run of only conn-10k or only fixed-rate cases has no ratio to plot
        gp += [
            "set output 'throughput_ratio.png'",
            "set title 'tern / mosquitto (best variant): delivered msgs/s, medians'",
            "set style data histograms",
            "set style fill solid 0.8 border -1",
            "set boxwidth 0.7",
            "set ylabel 'ratio (x)'",
            "set yrange [0:*]",
            "set xtics rotate by -30",
            "set grid ytics",
            "plot 'throughput_ratio.dat' using 2:xtic(1) title 'measured ratio' lc rgb '#2b7bba', "
            "'' using 0:3 with points pt 7 ps 1.5 lc rgb '#d62728' title 'target'",
        ]
    if lines:
        gp += [
            "set output 'latency.png'",
            "set title 'latency at a fixed rate (QoS 0, 64 B)'",
            "set logscale y",
            "set ylabel 'microseconds'",
            "set yrange [*:*]",
            "set xtics norotate ('p50' 0, 'p90' 1, 'p99' 2, 'p99.9' 3)",
            "set xrange [-0.2:3.2]",
            "set key outside right",
            "plot " + ', '.join(lines),
        ]
    if len(gp) == 1:
        return
    with open(os.path.join(outdir, 'plots.gp'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(gp) + '\n')
    subprocess.run(['gnuplot', 'plots.gp'], cwd=outdir, check=True)


if __name__ == '__main__':
    main()
