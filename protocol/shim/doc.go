// Package shim serves the Nanobox custom-provider HTTP API by executing a
// CPI binary once per request, the way BOSH drives external CPIs: the
// request is turned into one protocol.Request on the CPI's stdin, and its one
// protocol response on stdout is turned back into the HTTP answer the spec
// asks for.
//
// The shim knows routes, never clouds: anything that speaks package protocol
// on stdin/stdout can sit behind it, and its caller names the environment
// variables the CPI gets (Options.PassEnv). It is the part operators expose
// to the network, so it bounds everything: body size, call duration, the
// number of CPI processes, and it never lets a credential reach a log line,
// a metric or a response (package protocol/redact).
//
// Files by concern: options.go (Options and their checks), shim.go (the
// Shim, its life and shutdown), routes.go (routing), body.go (request
// bodies), credentials.go (Auth-* headers), slots.go (the CPI slots and
// their queue), answer.go (how a CPI's outcome becomes an HTTP answer),
// health.go (liveness and readiness), exec.go and procattr_*.go (running
// one CPI process, tied to the shim's life), accesslog.go, metrics.go and
// cpimetrics.go (/metrics), openapi.go (/openapi.json), landing.go (the
// page for browsers), and command.go and serve.go (the command line of
// cmd/nanobox-cpi-shim: its flags, checked together, and serving until a
// signal with a graceful shutdown).
package shim
