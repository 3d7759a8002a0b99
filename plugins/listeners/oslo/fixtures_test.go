package main

import (
	"testing"
	"time"
)

// fixtureTime is when every fixture notification was emitted.
var fixtureTime = time.Date(2026, 11, 22, 3, 1, 30, 123456000, time.UTC)

// fixture is one real-format notification, as the service publishes it:
// exchange, routing key and oslo message.
type fixture struct {
	exchange, key string
	msg           map[string]any
}

func (f fixture) body(t testing.TB) []byte { return envelope(t, f.msg) }

// fixtures are notifications in the shape Nova, Cinder, Glance and Neutron
// send them (payloads trimmed to what definitions read, plus some noise).
func fixtures() map[string]fixture {
	return map[string]fixture{
		"create": {"nova", "notifications.info", osloMessage("m-create", "compute.instance.create.end", "INFO", fixtureTime, instancePayload("i-1"))},
		"exists": {"nova", "notifications.info", osloMessage("m-exists", "compute.instance.exists", "INFO", fixtureTime, instancePayload("i-2"))},
		"volume": {"cinder", "notifications.info", osloMessage("m-volume", "volume.create.end", "INFO", fixtureTime, map[string]any{
			"volume_id": "v-1", "tenant_id": "p-1", "user_id": "u-1", "size": 10, "display_name": "data",
			"status": "available", "availability_zone": "nova", "volume_type": "lvm", "host": "cinder@lvm#pool",
			"created_at": "2026-11-22 03:00:00", "snapshot_id": nil, "replication_status": "disabled",
		})},
		"image": {"glance", "notifications.info", osloMessage("m-image", "image.upload", "INFO", fixtureTime, map[string]any{
			"id": "img-1", "owner": "p-1", "name": "cirros", "size": 16338944, "status": "active",
			"disk_format": "qcow2", "container_format": "bare", "created_at": "2026-11-22T03:00:00Z",
			"checksum": "ee1eca47dc88f4879d8a229cc70a07c6", "is_public": false, "deleted": false, "protected": false,
		})},
		"port": {"neutron", "notifications.info", osloMessage("m-port", "port.create.end", "INFO", fixtureTime, map[string]any{
			"port": map[string]any{
				"id": "port-1", "tenant_id": "p-1", "project_id": "p-1", "network_id": "net-1", "name": "",
				"mac_address": "fa:16:3e:00:00:01", "admin_state_up": true, "status": "DOWN",
				"device_id": "i-1", "device_owner": "compute:nova",
				"fixed_ips": []any{map[string]any{"subnet_id": "sub-1", "ip_address": "10.0.0.5"}},
			},
		})},
		"error": {"nova", "notifications.error", osloMessage("m-error", "compute.instance.create.error", "ERROR", fixtureTime, map[string]any{
			"instance_id": "i-3", "tenant_id": "p-1", "user_id": "u-1", "host": "compute-01", "state": "error",
			"message": "No valid host was found.", "code": 500, "exception": "NoValidHost",
			"instance_type": "m1.small", "memory_mb": 2048, "vcpus": 1, "root_gb": 20,
		})},
	}
}
