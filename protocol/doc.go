// Package protocol is the wire contract shared by the CPI binary and the HTTP
// shim: the request/response envelope, the method names and their argument
// shapes, the typed errors with their HTTP statuses, and the route table that
// maps Nanobox endpoints onto methods.
//
// It holds no cloud code. Anything that speaks this protocol on stdin/stdout
// can sit behind the shim.
//
// The envelope follows BOSH external CPIs:
//
//	request:  {"method": "...", "arguments": [...], "context": {...}, "api_version": 1}
//	response: {"result": ..., "error": null | {"type", "message", "ok_to_retry"}, "log": "..."}
package protocol
