// Package browsertest drives Debian's headless Chromium for the project's
// browser tests: it starts the browser, opens tabs that collect what their
// console says, runs actions that end the test when they fail, and saves
// screenshots. Under CI a test that needs Chromium fails when it is
// missing; elsewhere it skips, with a message, only when no chromium
// binary is found (testenv.NeedChromium).
//
// It is for tests only: _test.go files import it, never the program's own
// code (a test of this package checks that).
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testenv"
)

// Width and Height are the browser window's size, in CSS pixels, that
// NewPage and a zero Shared use.
const (
	Width  = 1280
	Height = 900
)

// Timeout bounds everything a test does in one tab: a page's context ends
// this long after the tab opened.
const Timeout = 90 * time.Second

// EnvScreenshots names the folder screenshots go to (one folder per test
// below it) when set; else they go to the test's t.ArtifactDir(), which
// go test -artifacts keeps.
const EnvScreenshots = "FAULTLINE_SCREENSHOTS"

// Browser is one headless Chromium process. Close ends it.
type Browser struct {
	ctx    context.Context
	cancel func()
}

// Start starts the Chromium executable at path, with a window of width ×
// height pixels and without its sandbox (Chromium refuses to start as
// root with it), and waits until it answers. The caller closes it.
func Start(path string, width, height int) (*Browser, error) {
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.WindowSize(width, height),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		bcancel()
		acancel()
		return nil, fmt.Errorf("start chromium %s: %w", path, err)
	}
	return &Browser{ctx: bctx, cancel: func() { bcancel(); acancel() }}, nil
}

// Close ends the browser and its tabs. It may be called more than once.
func (b *Browser) Close() {
	if b != nil && b.cancel != nil {
		b.cancel()
	}
}

// NewPage opens a tab in b for t. The tab collects its console's errors,
// warnings, failed assertions and uncaught exceptions (NoConsoleErrors
// reports them), and is closed when t ends.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	tab, closeTab := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(tab); err != nil { // opens the tab
		closeTab()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tab, Timeout)
	p := &Page{t: t, ctx: ctx}
	msgs := chromedp.Console(tab)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException, "assert":
				p.mu.Lock()
				p.errs = append(p.errs, m.String())
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		closeTab()
		<-done
	})
	return p
}

// NewPage starts a browser of t's own, with a window of width × height
// pixels, and opens a tab in it (Browser.NewPage); both end when t ends.
// It skips or fails t, by testenv.NeedChromium's rules, when there is no
// Chromium.
func NewPage(t testing.TB, width, height int) *Page {
	t.Helper()
	b, err := Start(testenv.NeedChromium(t), width, height)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.NewPage(t)
}

// Shared is one browser for every test of a test binary, each test in a
// tab of its own: the first NewPage starts it, with a Width × Height
// window, and TestMain calls Close after m.Run. Its zero value is ready to
// use; it is safe for concurrent use.
type Shared struct {
	once sync.Once
	b    *Browser
	err  error
}

// NewPage opens a tab for t in the shared browser (Browser.NewPage),
// starting the browser on first use. It skips or fails t, by
// testenv.NeedChromium's rules, when there is no Chromium, and fails t
// when the browser would not start.
func (s *Shared) NewPage(t testing.TB) *Page {
	t.Helper()
	path := testenv.NeedChromium(t)
	s.once.Do(func() { s.b, s.err = Start(path, Width, Height) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.b.NewPage(t)
}

// Close ends the shared browser, if it started.
func (s *Shared) Close() { s.b.Close() }

// Page is one browser tab of one test, with what its console said. Its
// methods end the test when an action fails.
type Page struct {
	t    testing.TB
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

// Context is the tab's context, for chromedp calls of one's own; it ends
// Timeout after the tab opened.
func (p *Page) Context() context.Context { return p.ctx }

// Do runs steps in the tab, in order.
func (p *Page) Do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// Run runs a in the tab and returns its result.
func Run[T any](p *Page, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, a)
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// Eval evaluates the JavaScript expression expr in the page and returns
// its value as a T.
func Eval[T any](p *Page, expr string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Open navigates to u and waits until the element sel matches (a CSS
// selector) is ready.
func (p *Page) Open(u, sel string) {
	p.t.Helper()
	p.Do(chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS(sel)))
}

// WaitFor polls the JavaScript expression expr until it is true, failing
// the test when it is not within the time given.
func (p *Page) WaitFor(expr string, within time.Duration) {
	p.t.Helper()
	testenv.Eventually(p.t, within, "wait for "+expr, func() error {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			return err
		}
		if !ok {
			return testenv.ErrNotYet
		}
		return nil
	})
}

// LoadAfter runs trigger and waits for the page it leads to to load.
func LoadAfter[T any](p *Page, trigger chromedp.Action[T]) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, trigger)); err != nil {
		p.t.Fatalf("wait for the page to load: %v", err)
	}
}

// NoConsoleErrors fails the test, without ending it, for each error,
// warning, failed assertion or uncaught exception of the tab's console so
// far.
func (p *Page) NoConsoleErrors() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errs {
		p.t.Errorf("browser console: %s", e)
	}
}

// Screenshot saves the whole page as name.png in the test's screenshot
// folder: $FAULTLINE_SCREENSHOTS/<test> when EnvScreenshots is set, else
// t.ArtifactDir().
func (p *Page) Screenshot(name string) {
	p.t.Helper()
	p.SaveScreenshot(name, chromedp.FullScreenshot(100))
}

// SaveScreenshot saves what shot takes (chromedp.Screenshot of one
// element, say) as name.png where Screenshot saves, and logs its path.
func (p *Page) SaveScreenshot(name string, shot chromedp.Action[[]byte]) {
	t := p.t
	t.Helper()
	dir := t.ArtifactDir()
	if env := os.Getenv(EnvScreenshots); env != "" {
		dir = filepath.Join(env, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	png, err := chromedp.Run(p.ctx, shot)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// FileURL is the file: URL of path, made absolute.
func FileURL(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		panic(err)
	}
	return (&url.URL{Scheme: "file", Path: abs}).String()
}
