// Command screenshots takes the README's screenshots of the dashboard in
// headless Chromium, at 1,400 x 900: the overview (stacks and the health
// tiles), a stack's tunnel lists, and the charts after a minute of
// readings. scripts/take-screenshots runs it against a gateway with the demo
// data set.
//
//	cd e2e && go run ./screenshots -url http://127.0.0.1:8080 -token TOKEN -out ../docs/screenshots
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}

func run() error {
	base := flag.String("url", "", "the gateway's base URL")
	token := flag.String("token", "", "a bearer token to show the dashboard with (the operator's shows the actions)")
	out := flag.String("out", "docs/screenshots", "the directory the PNG files go to")
	browser := flag.String("chromium", "/usr/bin/chromium", "the Chromium to drive")
	history := flag.Duration("history", 60*time.Second, "how long the charts gather readings first")
	flag.Parse()
	if *base == "" {
		return errors.New("-url is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(*browser), chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1400, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *history+3*time.Minute)
	defer cancelT()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			b, err := chromedp.CaptureScreenshot()(ctx, t)
			if err != nil {
				return chromedp.Void{}, err
			}
			fmt.Println(filepath.Join(*out, name))
			return chromedp.Void{}, os.WriteFile(filepath.Join(*out, name), b, 0o644)
		}
	}
	scrollTo := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).scrollIntoView({block: "start"})`, id))
	}
	return chromedp.Do(ctx,
		chromedp.EmulateViewport(1400, 900),
		chromedp.Navigate(*base+"/?poll=5&idle=30s#stack=TCPIP"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`sessionStorage.setItem("nmigw.token", %q)`, *token)),
		chromedp.Reload(),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#tiles [data-tile]").length > 0 &&
			document.querySelectorAll("#list-dynamic tbody tr[data-tunnel-id]").length > 0`,
			chromedp.WithPollingTimeout(60*time.Second)),
		chromedp.Sleep(*history),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
		chromedp.Sleep(300*time.Millisecond),
		shot("overview.png"),
		scrollTo("section-ike"),
		chromedp.Sleep(300*time.Millisecond),
		shot("stack.png"),
		scrollTo("section-charts"),
		chromedp.Sleep(300*time.Millisecond),
		shot("charts.png"),
	)
}
