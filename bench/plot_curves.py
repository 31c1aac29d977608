#!/usr/bin/env python3
"""Robust accuracy against eps, one curve per line of CURVES ("NAME<tab>ROW<tab>
FILE.json": the rows named ROW of foil attack --json's list in FILE), as a
table on stdout and a self-contained SVG (standard library only).

    plot_curves.py CURVES OUT.svg
"""
import json
import sys
from html import escape

COLOURS = ["#222222", "#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def read_curves(path):
    curves = []
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            continue
        name, row, file = parts
        rows = [r for r in json.load(open(file)) if r["attack"] == row]
        if not rows:
            sys.exit(f"{file}: no rows named {row}")
        points = [(0.0, rows[0]["clean_accuracy"])] + [(float(r["eps"]), r["robust_accuracy"]) for r in rows]
        curves.append((name, sorted(points)))
    return curves


def table(curves):
    eps = sorted({e for _, pts in curves for e, _ in pts})
    width = max(len(n) for n, _ in curves)
    print(f"{'defense':<{width}}  " + "  ".join(f"{e:>6g}" for e in eps))
    for name, pts in curves:
        acc = dict(pts)
        print(f"{name:<{width}}  " + "  ".join(f"{100 * acc[e]:5.1f}%" if e in acc else "     -" for e in eps))


def svg(curves, out):
    w, h, left, right, top, bottom = 760, 440, 60, 290, 20, 50
    pw, ph = w - left - right, h - top - bottom
    xmax = max(e for _, pts in curves for e, _ in pts) or 1.0
    sx = lambda e: left + pw * e / xmax
    sy = lambda a: top + ph * (1 - a)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>']
    for k in range(6):
        a = k / 5
        s.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(a):.1f}" y2="{sy(a):.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{left - 6}" y="{sy(a) + 4:.1f}" text-anchor="end">{100 * a:.0f}%</text>')
    eps = sorted({e for _, pts in curves for e, _ in pts})
    for e in eps:
        s.append(f'<line x1="{sx(e):.1f}" x2="{sx(e):.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>')
        s.append(f'<text x="{sx(e):.1f}" y="{top + ph + 16}" text-anchor="middle">{e:g}</text>')
    s.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    s.append(f'<text x="{left + pw / 2}" y="{h - 10}" text-anchor="middle">eps (Linf)</text>')
    s.append(f'<text transform="translate(16,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
             'robust accuracy</text>')
    for i, (name, pts) in enumerate(curves):
        c = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{sx(e):.1f},{sy(a):.1f}" for e, a in pts)
        s.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        s += [f'<circle cx="{sx(e):.1f}" cy="{sy(a):.1f}" r="3" fill="{c}"/>' for e, a in pts]
        y = top + 10 + 20 * i
        s.append(f'<line x1="{left + pw + 14}" x2="{left + pw + 34}" y1="{y}" y2="{y}" stroke="{c}" '
                 'stroke-width="2"/>')
        s.append(f'<text x="{left + pw + 40}" y="{y + 4}">{escape(name)}</text>')
    s.append("</svg>")
    open(out, "w").write("\n".join(s) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    curves = read_curves(sys.argv[1])
    table(curves)
    svg(curves, sys.argv[2])


if __name__ == "__main__":
    main()
