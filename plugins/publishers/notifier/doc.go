// Package main is publisher.notifier: Ceilometer's notifier publisher.
// Each batch becomes oslo.messaging notifications (messagingv2 envelope)
// of priority "sample" and event_type "metering" whose payload is a list
// of signed Ceilometer metering messages, published on RabbitMQ to the
// control exchange ("ceilometer") with routing key "<topic>.sample" and
// publisher confirms. It must not import host packages.
package main
