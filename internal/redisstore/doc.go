// Package redisstore holds the service's own Redis stores, the ones no
// outside code needs: the event log of each session's stream, the stream
// tickets, the stop requests, the rate limits and the incident-context
// cache; with the client's instrumentation (spans and metrics of every
// command) and its log routing. They are built on pkg/redis, the public
// package a gateway imports for the revocation mirror, and share its
// client, its replication rule (Replication.Exec) and its subscription
// (Subscribe).
package redisstore
