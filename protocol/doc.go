// Package protocol is the wire contract shared by the CPI binary, the HTTP
// shim and BOSH: the request/response envelope, the one method table
// (Table: each method's name, argument shapes, body type, HTTP route and
// success status, and its binding to the CPI that serves it), the typed
// errors with their HTTP statuses and BOSH counterparts, the dispatcher,
// ServeOnce and the CPI command line.
//
// Two families of methods share the table: the Nanobox methods (served by
// a NanoboxFactory, each with an HTTP route the shim derives from Routes)
// and the BOSH CPI API v2 methods (served by a BoshFactory, no routes);
// info belongs to both. A request names api_version 1 or 2 (or none, read
// as 1); info always answers 2.
//
// It holds no cloud code. Anything that speaks this protocol on stdin/stdout
// can sit behind the shim.
//
// The envelope follows BOSH external CPIs:
//
//	request:  {"method": "...", "arguments": [...], "context": {...}, "api_version": 2}
//	response: {"result": ..., "error": null | {"type", "message", "ok_to_retry"[, "retry_after_seconds"]}, "log": "..."}
package protocol
