// Package kubernetes holds the Kubernetes manifests of the adapter and
// their tests.
package kubernetes
