package browser_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/release/deploy/internal/repo"
)

var screenshot = flag.String("screenshot", "", "write the plain headless screenshot of the landing page here (e.g. ../../../docs/landing.png)")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	repo.Cleanup()
	os.Exit(code)
}

// chromium is the browser's path; its absence fails the test with the
// line that installs it.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium on PATH: apt-get install -y chromium (.ci/run does)")
	return ""
}

// startAdapter runs the built shim in front of the built CPI (the real
// pair: meta and info need no cloud) and returns its URL.
func startAdapter(t *testing.T, extraArgs ...string) string {
	bin := repo.BinDir(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cpi.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"state_dir": "`+dir+`", "operator_token_for_calls": false}`), 0o600))
	args := append([]string{"--listen=127.0.0.1:0", "--cpi=" + filepath.Join(bin, "nanobox-hcloud-cpi"), "--cpi-config=" + cfg}, extraArgs...)
	return repo.StartShim(t, filepath.Join(bin, "nanobox-cpi-shim"), args, []string{"PATH=/usr/bin:/bin", "TMPDIR=" + dir})
}

// pageLog is what the browser reported while it showed the page.
type pageLog struct {
	mu       sync.Mutex
	errors   []string // console errors, exceptions, browser log errors
	warnings []string
	requests []string // every URL the page asked for
}

func (l *pageLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg := fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert:
			l.errors = append(l.errors, msg)
		case runtime.ConsoleAPICalledTypeWarning:
			l.warnings = append(l.warnings, msg)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		l.errors = append(l.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *log.EventEntryAdded:
		msg := fmt.Sprintf("browser log (%s) %s: %s", ev.Entry.Source, ev.Entry.URL, ev.Entry.Text)
		switch ev.Entry.Level {
		case log.EntryLevelError:
			l.errors = append(l.errors, msg)
		case log.EntryLevelWarning:
			l.warnings = append(l.warnings, msg)
		}
	case *network.EventRequestWillBeSent:
		l.requests = append(l.requests, ev.Request.URL)
	}
}

// openPage loads url in a fresh headless Chromium and waits until the
// liveness and readiness checks have answered and Swagger UI has rendered wantOps operations.
func openPage(t *testing.T, url string, wantOps int) (context.Context, *pageLog) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.WindowSize(1280, 1600),
		chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run its sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)

	pl := &pageLog{}
	require.NoError(t, chromedp.Listen(ctx, pl.listen), "starting Chromium")
	step, stepCancel := context.WithTimeout(ctx, 3*time.Minute)
	defer stepCancel()
	require.NoError(t, chromedp.Do(step, chromedp.Navigate(url)))
	for _, id := range []string{"health", "ready"} {
		state, err := chromedp.Run(step, chromedp.Poll[string](
			fmt.Sprintf(`document.getElementById(%q).dataset.state !== "checking" && document.getElementById(%q).dataset.state`, id, id),
			chromedp.WithPollingTimeout(time.Minute)))
		require.NoError(t, err, "#%s never answered", id)
		assert.Equal(t, "ok", state, "#%s", id)
	}
	_, err := chromedp.Run(step, chromedp.Poll[bool](
		fmt.Sprintf(`document.querySelectorAll("#swagger-ui .opblock").length >= %d`, wantOps),
		chromedp.WithPollingTimeout(time.Minute)))
	require.NoError(t, err, "Swagger UI never rendered %d operations", wantOps)
	return ctx, pl
}

// documentedOps lists "VERB /path" for each operation of the served
// /openapi.json.
func documentedOps(t *testing.T, url string) []string {
	resp, err := http.Get(url + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	var ops []string
	for p, item := range doc.Paths {
		for verb := range item {
			ops = append(ops, strings.ToUpper(verb)+" "+p)
		}
	}
	sort.Strings(ops)
	require.NotEmpty(t, ops)
	return ops
}

type row struct {
	Verb   string `json:"verb"`
	Path   string `json:"path"`
	Method string `json:"method"`
}

func TestLandingPageRendersInChromium(t *testing.T) {
	for _, tc := range []struct {
		name, basePath string
	}{
		{"root", ""},
		{"base path", "/api/v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.basePath != "" {
				args = append(args, "--base-path="+tc.basePath)
			}
			url := startAdapter(t, args...)
			ops := documentedOps(t, url)
			page := url + tc.basePath
			if tc.basePath == "" {
				page += "/"
			}
			ctx, pl := openPage(t, page, len(ops))

			// The route table (protocol.Routes; protocol/shim's landing test
			// holds it to that) lists every documented operation under the
			// base path, with its CPI method.
			rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]row](`Array.from(document.querySelectorAll("#routes tbody tr")).map(tr => {
				const td = tr.querySelectorAll("td");
				return {verb: td[0].textContent, path: td[1].textContent, method: td[2].textContent};
			})`))
			require.NoError(t, err)
			listed := map[string]bool{}
			for _, r := range rows {
				assert.NotEmpty(t, r.Method, "%s %s names its CPI method", r.Verb, r.Path)
				for _, verb := range strings.Split(r.Verb, ", ") { // "GET, HEAD": every GET route answers HEAD
					listed[verb+" "+r.Path] = true
				}
			}
			for _, op := range ops {
				verb, p, _ := strings.Cut(op, " ")
				assert.True(t, listed[verb+" "+tc.basePath+p], "the route table lists %s %s%s", verb, tc.basePath, p)
			}

			// Swagger UI shows every documented operation, and only those.
			rendered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#swagger-ui .opblock")).map(op =>
				op.querySelector(".opblock-summary-method").textContent.trim() + " " +
				op.querySelector(".opblock-summary-path").dataset.path)`))
			require.NoError(t, err)
			sort.Strings(rendered)
			assert.Equal(t, ops, rendered)

			links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("ul.links a")).map(a => a.getAttribute("href"))`))
			require.NoError(t, err)
			assert.Subset(t, links, []string{"/openapi.json", "/metrics", "/healthz", "/livez", "/readyz"})

			cpi, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("cpi").textContent`))
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(cpi, "nanobox-hcloud "), "the CPI's name and version: %q", cpi)

			// Titled by the product; the next steps name the URL the
			// browser reached the adapter at and the credential field.
			title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
			require.NoError(t, err)
			assert.Equal(t, "nanobox-hcloud", title)
			register, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("register-url").textContent`))
			require.NoError(t, err)
			assert.Equal(t, url+tc.basePath, register)
			creds, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#next-steps code.credential")).map(c => c.textContent)`))
			require.NoError(t, err)
			assert.Equal(t, []string{"api-token"}, creds)

			// A round trip after the checks: every event sent before it has
			// reached the listener.
			_, err = chromedp.Run(ctx, chromedp.Evaluate[int](`1`))
			require.NoError(t, err)
			pl.mu.Lock()
			defer pl.mu.Unlock()
			for _, w := range pl.warnings {
				t.Logf("browser warning: %s", w)
			}
			assert.Empty(t, pl.errors, "console errors")
			require.NotEmpty(t, pl.requests)
			for _, u := range pl.requests {
				assert.True(t, strings.HasPrefix(u, url+"/") || strings.HasPrefix(u, "data:"),
					"the page loads only from the adapter (no CDN): %s", u)
			}
		})
	}
}

// swaggerGET is the background of Swagger UI's GET badge (#61affe): it is
// on screen only once the API reference has rendered its operations.
var swaggerGET = color.RGBA{R: 0x61, G: 0xaf, B: 0xfe, A: 0xff}

// TestPlainHeadlessScreenshotShowsTheReference takes the screenshot anyone
// would (chromium --headless --screenshot, no --virtual-time-budget: taken
// at the page's load event) and finds the API reference's operations in it.
// Curl's Accept: */* gets the same page.
func TestPlainHeadlessScreenshotShowsTheReference(t *testing.T) {
	url := startAdapter(t)
	dir := t.TempDir()
	shot := filepath.Join(dir, "landing.png")
	args := []string{"--headless", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2600",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--screenshot=" + shot, url + "/"}
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium(t), args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	f, err := os.Open(shot)
	require.NoError(t, err, "%s", out)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	get := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == swaggerGET {
				get++
			}
		}
	}
	t.Logf("%d pixels of Swagger UI's GET badge colour", get)
	// Each GET badge is about 60x25 pixels; the reference has four.
	assert.Greater(t, get, 4*1000, "pixels of Swagger UI's GET badges in the screenshot: the reference did not render")
	if *screenshot != "" {
		data, err := os.ReadFile(shot)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(*screenshot, data, 0o644))
		t.Logf("wrote %s (%d bytes)", *screenshot, len(data))
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "*/*")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
}
