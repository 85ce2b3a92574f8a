#!/usr/bin/env python3
"""rss_plot.py SAMPLES OUT.svg BUDGET_MIB [TITLE]

Draws the RSS samples of soak_tool.py rss ("seconds kB" lines) as an SVG
line chart with the memory budget as a red line and the sampled peak
marked. No dependencies beyond Python. Used by test_limits.sh
(limits_memory_soak_50m); a copy of one run's plot is docs/limits-soak-rss.svg.
"""
import sys


def main():
    samples, out, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
    title = sys.argv[4] if len(sys.argv) > 4 else "tun2socks RSS"
    pts = []
    with open(samples) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                pts.append((float(parts[0]), int(parts[1]) / 1024.0))
    if not pts:
        sys.exit("no samples in " + samples)
    w, h, ml, mr, mt, mb = 720, 360, 60, 20, 40, 45
    tmax = max(1.0, pts[-1][0])
    peak_t, peak = max(pts, key=lambda p: p[1])
    ymax = max(budget * 1.25, peak * 1.1)

    def x(t):
        return ml + (w - ml - mr) * t / tmax

    def y(v):
        return h - mb - (h - mt - mb) * v / ymax

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (w, h),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="20" font-size="14">%s</text>' % (ml, title)]
    step = 10 if ymax <= 80 else 25 if ymax <= 200 else 100
    v = 0
    while v <= ymax:
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                 % (ml, w - mr, y(v), y(v)))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>' % (ml - 5, y(v) + 4, v))
        v += step
    tstep = 5 if tmax <= 60 else 10
    t = 0
    while t <= tmax:
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(t), h - mb + 15, t))
        t += tstep
    o.append('<text x="%d" y="%d" text-anchor="middle">seconds</text>' % ((ml + w - mr) // 2, h - 8))
    o.append('<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">RSS (MiB)</text>'
             % ((mt + h - mb) // 2, (mt + h - mb) // 2))
    o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="red" stroke-dasharray="6 4"/>'
             % (ml, w - mr, y(budget), y(budget)))
    o.append('<text x="%d" y="%.1f" fill="red" text-anchor="end">budget %g MiB</text>'
             % (w - mr - 4, y(budget) - 5, budget))
    o.append('<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="%s"/>'
             % " ".join("%.1f,%.1f" % (x(a), y(b)) for a, b in pts))
    o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="#1f5fbf"/>' % (x(peak_t), y(peak)))
    o.append('<text x="%.1f" y="%.1f">peak %.1f MiB</text>' % (x(peak_t) + 6, y(peak) - 6, peak))
    o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>' % (ml, ml, mt, h - mb))
    o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>' % (ml, w - mr, h - mb, h - mb))
    o.append('</svg>')
    with open(out, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
