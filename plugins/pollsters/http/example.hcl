pollster "http" {
  timeout = "10s"
  # Secrets come from the environment or a file, never from this file, and
  # are never logged:
  # bearer_token_file = "/var/run/secrets/prometheus/token"
  # headers_from_env  = { Authorization = "PROMETHEUS_AUTH" } # holds "Bearer <token>"

  # One sample per result entry: the value from value[1], the resource from
  # the instance label, every label as metadata (metric.job, ...), and the
  # job label also renamed to "job".
  meter "prometheus.target.up" {
    url                   = "http://127.0.0.1:9090/api/v1/query?query=up"
    type                  = "gauge"
    unit                  = "target"
    response_entries_key  = "data.result"
    value_attribute       = "value[1]"
    resource_id_attribute = "metric.instance"
    metadata_fields       = ["metric"]
    metadata_mapping      = { "metric.job" = "job" }
  }

  # Strings mapped to numbers; anything else becomes default_value.
  meter "prometheus.target.health" {
    url                   = "http://127.0.0.1:9090/api/v1/targets?state=active"
    type                  = "gauge"
    unit                  = "state"
    response_entries_key  = "data.activeTargets"
    value_attribute       = "health"
    value_mapping         = { up = 1, down = 0 }
    default_value         = -1
    resource_id_attribute = "scrapeUrl"
    metadata_fields       = ["labels.job", "lastError"]
  }

  # One request, several meters: value blocks.
  meter "prometheus.tsdb" {
    url                  = "http://127.0.0.1:9090/api/v1/status/tsdb"
    type                 = "gauge"
    unit                 = "series"
    response_entries_key = "data.headStats"
    resource_id          = "prometheus-local"

    value "prometheus.tsdb.head.series" {
      attribute = "numSeries"
    }
    value "prometheus.tsdb.head.chunks" {
      attribute = "chunkCount"
      unit      = "chunk"
    }
  }

  # Ceilometer's multi-metric form: one meter per element of a list, named
  # after the element's "name" field.
  meter "prometheus.tsdb.series.{name}" {
    url                  = "http://127.0.0.1:9090/api/v1/status/tsdb"
    type                 = "gauge"
    unit                 = "series"
    response_entries_key = "data"
    value_attribute      = "[seriesCountByMetricName].value"
    resource_id          = "prometheus-local"
  }

  # A text response: each match of the regular expression is one entry,
  # its named groups the entry's fields (value_attribute defaults to "value").
  meter "prometheus.head.series" {
    url             = "http://127.0.0.1:9090/metrics"
    response_format = "text"
    text_pattern    = "(?m)^prometheus_tsdb_head_series (?P<value>\\S+)$"
    type            = "gauge"
    unit            = "series"
    resource_id     = "prometheus-local"
  }
}

# Each meter block is one resource: discovery lists them, the host keeps the
# ones this agent owns, and the pollster requests only those.
polling "prometheus" {
  interval  = "60s"
  meters    = ["prometheus.*"]
  discovery = ["http.definitions"]
  sinks     = ["default"] # a sink block of yours
}
