// Package faulttest holds deprov's fault tests: integration tests that run
// real `deprov serve` processes against a real SCIM target (SCIMMY) and a
// real database (SQLite, PostgreSQL), break something in the middle of the
// work — kill -9 a node, take the target off the network, restart
// PostgreSQL — and check that every revocation still ends succeeded exactly
// once, in deprov's records, in its audit chain and in the target.
//
// The tests build the deprov binary once per test binary (without -race:
// it is another process) and stop everything they start.
package faulttest
