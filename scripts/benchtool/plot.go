package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws latency percentiles against concurrency, one panel per
// route, log-log, with the direct CPI's p50 for comparison.
func (b *bench) writePlot(path string) error {
	routes := loadRoutes()
	var plots []*plot.Plot
	for _, rt := range routes {
		p := plot.New()
		p.Title.Text = "shim " + rt.name
		p.X.Label.Text = "concurrent clients"
		p.Y.Label.Text = "latency (ms, log scale)"
		p.X.Scale = plot.LogScale{}
		p.Y.Scale = plot.LogScale{}
		var ticks []plot.Tick
		for _, c := range b.clients {
			ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Tick.Marker = msTicks{}
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Legend.Left = true

		series := []struct {
			label  string
			levels []*loadLevel
			value  func(*loadLevel) float64
			color  color.RGBA
			dashes []vg.Length
			shape  draw.GlyphDrawer
		}{
			{"shim p50", b.levels(b.res.Load, rt.name), func(l *loadLevel) float64 { return l.P50Ms }, color.RGBA{0x1f, 0x77, 0xb4, 0xff}, nil, draw.CircleGlyph{}},
			{"shim p95", b.levels(b.res.Load, rt.name), func(l *loadLevel) float64 { return l.P95Ms }, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, nil, draw.SquareGlyph{}},
			{"shim p99", b.levels(b.res.Load, rt.name), func(l *loadLevel) float64 { return l.P99Ms }, color.RGBA{0xd6, 0x27, 0x28, 0xff}, nil, draw.TriangleGlyph{}},
			{"direct CPI p50", b.levels(b.res.LoadDirect, rt.name), func(l *loadLevel) float64 { return l.P50Ms }, color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, []vg.Length{vg.Points(4), vg.Points(3)}, draw.CrossGlyph{}},
		}
		for _, s := range series {
			var xys plotter.XYs
			for _, l := range s.levels {
				v := s.value(l)
				if v <= 0 {
					continue
				}
				xys = append(xys, plotter.XY{X: float64(l.Clients), Y: v})
			}
			if len(xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color = s.color
			line.Width = vg.Points(1.5)
			line.Dashes = s.dashes
			points.Color = s.color
			points.Shape = s.shape
			points.Radius = vg.Points(3)
			p.Add(line, points)
			p.Legend.Add(s.label, line, points)
		}
		if rt.method == "query_server" {
			// The target: p99 ≤ 50 ms at 32 clients.
			target, err := plotter.NewLine(plotter.XYs{{X: float64(b.clients[0]) / 1.5, Y: 50}, {X: float64(b.clients[len(b.clients)-1]) * 1.5, Y: 50}})
			if err != nil {
				return err
			}
			target.Color = color.RGBA{0x80, 0x80, 0x80, 0xff}
			target.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(target)
			p.Legend.Add("target p99 50 ms", target)
		}
		// Explicit ranges: a log axis needs positive bounds, also when
		// there is a single concurrency level.
		p.X.Min, p.X.Max = float64(b.clients[0])/1.5, float64(b.clients[len(b.clients)-1])*1.5
		lo, hi := math.Inf(1), 0.0
		for _, l := range append(b.levels(b.res.Load, rt.name), b.levels(b.res.LoadDirect, rt.name)...) {
			for _, v := range []float64{l.P50Ms, l.P95Ms, l.P99Ms} {
				if v > 0 {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		if hi == 0 {
			lo, hi = 1, 10
		}
		p.Y.Min, p.Y.Max = math.Min(lo, 50)/1.5, math.Max(hi, 50)*1.5
		plots = append(plots, p)
	}
	const w, h = 12 * vg.Inch, 5 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3,
		PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// levels selects the levels of one route, in concurrency order.
func (b *bench) levels(all []*loadLevel, route string) []*loadLevel {
	var out []*loadLevel
	for _, l := range all {
		if l.Route == route {
			out = append(out, l)
		}
	}
	return out
}

// msTicks labels a log axis at 1-2-5 steps.
type msTicks struct{}

func (msTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for dec := 0.01; dec <= max*10; dec *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := dec * m
			if v < min/1.0001 || v > max*1.0001 {
				continue
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: trimFloat(v)})
		}
	}
	return ticks
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%g", v)
	return s
}
