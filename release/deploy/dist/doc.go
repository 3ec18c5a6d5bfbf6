// Package dist holds the tests of what a release is made of and how it is
// made: the version every build stamps (scripts/version), the first run on a
// fresh machine (scripts/test-tools), and `make dist`'s reproducible files
// (the disttool command beside it).
package dist
