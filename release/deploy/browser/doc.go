// Package browser loads the shim's landing page in headless Chromium.
package browser
