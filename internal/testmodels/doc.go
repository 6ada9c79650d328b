// Package testmodels holds host model types for the tests of the root
// package: packages whose names differ from their import paths' last
// element, as real host code has them.
package testmodels
