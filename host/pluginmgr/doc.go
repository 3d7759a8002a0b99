// Package pluginmgr owns discovering, fingerprinting, launching and
// supervising plugin processes.
//
// Scan lists the executables named altimeter-<kind>-<name> in the plugin
// directory and fingerprints each one by running it without the go-plugin
// magic cookie, which makes an SDK plugin print its Describe as JSON and
// exit. Launch starts one process per plugin instance through go-plugin
// (gRPC only, AutoMTLS), configures it and hands it to a supervisor
// goroutine that restarts it with exponential backoff after an unexpected
// exit, and gives up (state failed) after a crash loop. The package does not
// import other host packages or plugins.
package pluginmgr
