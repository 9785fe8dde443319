package main

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// point is one point of a plotted line.
type point struct{ x, y float64 }

// series is one line of the plot.
type series struct {
	label string
	pts   []point
}

// Plot geometry, in SVG user units.
const (
	plotW, plotH              = 900, 420
	padLeft, padRight         = 70, 170
	padTop, padBottom         = 40, 50
	innerW, innerH    float64 = plotW - padLeft - padRight, plotH - padTop - padBottom
)

// palette colours the lines in turn.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// writePlot writes the calls/s of each run of (a) as an SVG file at path
// and returns its absolute path.
func writePlot(path string, quota int, runs []quotaResult) (string, error) {
	var ss []series
	for _, r := range runs {
		label := fmt.Sprintf("%d workers", r.workers)
		if r.workers == 1 {
			label = "1 worker"
		}
		ss = append(ss, series{label: label, pts: r.rates})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("-plot: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("-plot: %w", err)
	}
	w := bufio.NewWriter(f)
	svgPlot(w, fmt.Sprintf("Provider calls/s, quota %d/s (sandbox meter every %s)", quota, pollEvery), float64(quota), ss)
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

// svgPlot draws the series against seconds, with a dashed line at limit
// and a legend on the right.
func svgPlot(w io.Writer, title string, limit float64, ss []series) {
	maxX, maxY := 1.0, limit
	for _, s := range ss {
		for _, p := range s.pts {
			maxX, maxY = max(maxX, p.x), max(maxY, p.y)
		}
	}
	xStep, yStep := niceStep(maxX), niceStep(maxY*1.1)
	maxX = math.Ceil(maxX/xStep) * xStep
	maxY = math.Ceil(maxY*1.1/yStep) * yStep
	px := func(x float64) float64 { return padLeft + x/maxX*innerW }
	py := func(y float64) float64 { return padTop + innerH - y/maxY*innerH }

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="22" font-size="15">%s</text>`+"\n", padLeft, esc(title))

	// Grid and ticks.
	for x := 0.0; x <= maxX+xStep/2; x += xStep {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", px(x), padTop, px(x), padTop+innerH)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", px(x), padTop+innerH+16, x)
	}
	for y := 0.0; y <= maxY+yStep/2; y += yStep {
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", padLeft, py(y), padLeft+innerW, py(y))
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", padLeft-6, py(y)+4, y)
	}
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", padLeft, padTop, innerW, innerH)
	fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">seconds since the workers started</text>`+"\n", padLeft+innerW/2, plotH-10)
	fmt.Fprintf(w, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">provider calls/s</text>`+"\n", padTop+innerH/2)

	// The quota.
	fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-dasharray="6 4"/>`+"\n", padLeft, py(limit), padLeft+innerW, py(limit))

	for i, s := range ss {
		color := palette[i%len(palette)]
		var b strings.Builder
		for _, p := range s.pts {
			if p.x < 0 { // a reading from just before the workers started
				continue
			}
			fmt.Fprintf(&b, "%.1f,%.1f ", px(p.x), py(max(p.y, 0)))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, strings.TrimSpace(b.String()))
		legend(w, i, color, s.label, false)
	}
	legend(w, len(ss), "#000", fmt.Sprintf("quota %g/s", limit), true)
	fmt.Fprintln(w, "</svg>")
}

// legend draws the i-th entry of the legend.
func legend(w io.Writer, i int, color, label string, dashed bool) {
	x, y := float64(padLeft)+innerW+16, float64(padTop)+12+float64(i)*20
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x, y, x+24, y, color, dash)
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x+30, y+4, esc(label))
}

// niceStep returns a tick step of 1, 2 or 5 times a power of ten that cuts
// span into five to ten parts.
func niceStep(span float64) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// esc escapes text for SVG.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
