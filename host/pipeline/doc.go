// Package pipeline is the runtime graph that moves samples: polling sources
// (one timer per distinct interval, startup poll after a small random delay,
// jitter, per-call deadlines, static and discovered resources) and listener
// streams feed sinks; each sink runs its ordered transformer chain and fans
// the result out to its publishers, each behind its own bounded queue, so a
// slow or failing publisher never stalls another.
//
// Delivery guarantees: a listener's delivery is acknowledged only once every
// publisher of every sink it reached has accepted it (Rejected if any
// rejected it, Retry if any could not take it), so a listener acks its
// broker end to end. A publisher with a disk queue (DiskQueue, package
// spool) accepts its part once the batch is durable in its queue, then
// delivers from the queue at its own pace, across restarts; a full disk
// queue drops its oldest batches (counted) or, with the block policy,
// answers Retry. A publisher with a memory queue accepts its part when the
// publisher did. Polled samples have no broker behind them: when a
// publisher's memory queue is full, the oldest polled batches are dropped
// and counted; a listener's deliveries are never dropped, they are
// answered Retry instead.
//
// The package talks to plugins through the narrow interfaces in this file's
// package (Poller, Transformer, Publisher, ListenerSource), not through the
// plugin manager; it must not import other host packages or plugins.
package pipeline
