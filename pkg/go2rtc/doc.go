// Package go2rtc runs and drives go2rtc, the streaming process that owns the
// camera connections, WebRTC, MSE and snapshots.
//
// It writes go2rtc.yaml, supervises the process (managed mode) or only watches
// its API (external mode, when an init script supervises it), talks to its
// HTTP API and reconciles go2rtc's stream list with the one we want.
//
// go2rtc runs with api.base_path "/go2rtc", as under LightNVR: every API path is
// /go2rtc/api/..., the same path the browser uses on our port. Our reverse proxy
// therefore forwards the request path and query unchanged, and go2rtc's own web
// pages, which build links from base_path, work through it too.
//
// API and RTSP listen on loopback only: go2rtc offers exec sources, so its API
// must never be reachable from the LAN. Local processes are kept out too:
// go2rtc runs with the credentials of CredentialsFile, demanded from loopback
// callers as well, and only the API paths lightnvr uses exist (APIPaths).
package go2rtc
