// Package e2e drives the web UI in headless Chromium (Debian's chromium package,
// through chromedp) against the built lightnvr daemon, run as a user runs it
// (INI file, managed go2rtc, recording pipelines), with a test-pattern camera:
// login with TOTP, live video over WebRTC and MSE through the /go2rtc proxy,
// streams, recordings, users, settings, system, role limits, console errors
// and off-box requests.
//
// Run: go test ./test/e2e/ (ARTIFACT_DIR=dir keeps the screenshots of every page).
package e2e
