// Package e2e tests the webhook dashboard in a real browser: headless
// Chromium, driven by chromedp, against an Emitter and a receiver on
// 127.0.0.1. It is a module of its own so that the library's go.mod does
// not require chromedp. See dashboard_e2e_test.go.
package e2e
