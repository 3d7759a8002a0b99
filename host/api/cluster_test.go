package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/auth"
)

// fakeCluster answers by input: the id or project names the outcome.
type fakeCluster struct{}

func (fakeCluster) Status(context.Context) (any, error) {
	return map[string]any{"node_id": "n1", "state": "leader", "leader_id": "n1", "leader_address": "127.0.0.1:8301",
		"term": 2, "commit_index": 9, "applied_index": 9, "lease_held": true, "epoch": 3,
		"members": []map[string]any{{"id": "n1", "raft_address": "127.0.0.1:8301", "suffrage": "voter", "state": "leader", "pollsters": []string{}}}}, nil
}

func (fakeCluster) Partitions(context.Context) (any, error) {
	return map[string]any{"epoch": 3, "live": []string{"n1"}, "counts": map[string]int{"n1": 1},
		"resources": []map[string]string{{"pollster": "pollster.snmp", "resource": "snmp://h:161", "owner": "n1"}}}, nil
}

func outcome(id string) error {
	switch id {
	case "dup", "leader":
		return fmt.Errorf("%w: %s", ErrConflict, id)
	case "bad":
		return fmt.Errorf("%w: %s", ErrBadRequest, id)
	case "none":
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	case "noleader":
		return fmt.Errorf("%w: no cluster leader", ErrUnavailable)
	}
	return nil
}

func (fakeCluster) Join(_ context.Context, id, _ string) error { return outcome(id) }
func (fakeCluster) Remove(_ context.Context, id string) error  { return outcome(id) }
func (fakeCluster) Leave(context.Context) error                { return nil }

type fakeTokens struct{}

func (fakeTokens) Create(_ context.Context, project string, role auth.Role) (string, auth.Principal, error) {
	if err := auth.Validate(project, role); err != nil {
		return "", auth.Principal{}, err
	}
	if err := outcome(project); err != nil {
		return "", auth.Principal{}, err
	}
	return "alt_x", auth.Principal{TokenID: "t9", Project: project, Role: role}, nil
}

func (fakeTokens) List(context.Context) ([]auth.Token, error) {
	return []auth.Token{{ID: "t0", Role: auth.RoleAdmin, Created: t0}}, nil
}

func (fakeTokens) Revoke(_ context.Context, id string) error {
	if id == "none" {
		return fmt.Errorf("revoke: %w", auth.ErrUnknownToken)
	}
	return outcome(id)
}

// clusterCases exercise the cluster and token endpoints for the
// conformance test, in success and every described error.
var clusterCases = []struct {
	method, path, target, token, body string
	code                              int
}{
	{"GET", "/v2/cluster", "/v2/cluster", tokA, "", 200},
	{"GET", "/v2/cluster", "/v2/cluster", "", "", 401},
	{"GET", "/v2/cluster/partitions", "/v2/cluster/partitions", tokA, "", 200},
	{"GET", "/v2/cluster/partitions", "/v2/cluster/partitions", "x", "", 401},
	{"POST", "/v2/cluster/members", "/v2/cluster/members", tokAdmin, `{"id":"n2","address":"127.0.0.1:8302"}`, 201},
	{"POST", "/v2/cluster/members", "/v2/cluster/members", tokAdmin, `{"id":"bad","address":"x"}`, 400},
	{"POST", "/v2/cluster/members", "/v2/cluster/members", "", `{}`, 401},
	{"POST", "/v2/cluster/members", "/v2/cluster/members", tokA, `{"id":"n2","address":"127.0.0.1:8302"}`, 403},
	{"POST", "/v2/cluster/members", "/v2/cluster/members", tokAdmin, `{"id":"dup","address":"127.0.0.1:8302"}`, 409},
	{"POST", "/v2/cluster/members", "/v2/cluster/members", tokAdmin, `{"id":"` + strings.Repeat("x", 20000) + `"}`, 413},
	{"POST", "/v2/cluster/members", "/v2/cluster/members", tokAdmin, `{"id":"noleader","address":"127.0.0.1:8302"}`, 503},
	{"DELETE", "/v2/cluster/members/{id}", "/v2/cluster/members/n2", tokAdmin, "", 200},
	{"DELETE", "/v2/cluster/members/{id}", "/v2/cluster/members/n2", "", "", 401},
	{"DELETE", "/v2/cluster/members/{id}", "/v2/cluster/members/n2", tokA, "", 403},
	{"DELETE", "/v2/cluster/members/{id}", "/v2/cluster/members/none", tokAdmin, "", 404},
	{"DELETE", "/v2/cluster/members/{id}", "/v2/cluster/members/leader", tokAdmin, "", 409},
	{"DELETE", "/v2/cluster/members/{id}", "/v2/cluster/members/noleader", tokAdmin, "", 503},
	{"POST", "/v2/cluster/leave", "/v2/cluster/leave", tokAdmin, "", 200},
	{"POST", "/v2/cluster/leave", "/v2/cluster/leave", "", "", 401},
	{"POST", "/v2/cluster/leave", "/v2/cluster/leave", tokA, "", 403},
	{"GET", "/v2/tokens", "/v2/tokens", tokAdmin, "", 200},
	{"GET", "/v2/tokens", "/v2/tokens", "", "", 401},
	{"GET", "/v2/tokens", "/v2/tokens", tokA, "", 403},
	{"POST", "/v2/tokens", "/v2/tokens", tokAdmin, `{"project":"p","role":"member"}`, 201},
	{"POST", "/v2/tokens", "/v2/tokens", tokAdmin, `{"role":"root"}`, 400},
	{"POST", "/v2/tokens", "/v2/tokens", "", `{}`, 401},
	{"POST", "/v2/tokens", "/v2/tokens", tokA, `{"project":"p"}`, 403},
	{"POST", "/v2/tokens", "/v2/tokens", tokAdmin, `{"project":"` + strings.Repeat("p", 20000) + `"}`, 413},
	{"POST", "/v2/tokens", "/v2/tokens", tokAdmin, `{"project":"noleader"}`, 503},
	{"DELETE", "/v2/tokens/{id}", "/v2/tokens/t1", tokAdmin, "", 200},
	{"DELETE", "/v2/tokens/{id}", "/v2/tokens/t1", "", "", 401},
	{"DELETE", "/v2/tokens/{id}", "/v2/tokens/t1", tokA, "", 403},
	{"DELETE", "/v2/tokens/{id}", "/v2/tokens/none", tokAdmin, "", 404},
	{"DELETE", "/v2/tokens/{id}", "/v2/tokens/noleader", tokAdmin, "", 503},
}

// TestClusterHostile sends what a careless or hostile client would: bad
// JSON, wrong types, unknown fields, trailing data, huge bodies,
// a member token; each gets a clear 4xx and nothing reaches the
// cluster.
func TestClusterHostile(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	cases := []struct {
		name, method, target, token, body string
		code                              int
		want                              string
	}{
		{"not json", "POST", "/v2/cluster/members", tokAdmin, `{`, 400, "body"},
		{"wrong type", "POST", "/v2/cluster/members", tokAdmin, `{"id":1,"address":"a:1"}`, 400, "cannot unmarshal number"},
		{"unknown field", "POST", "/v2/cluster/members", tokAdmin, `{"id":"n","address":"a:1","voter":true}`, 400, "unknown field"},
		{"trailing data", "POST", "/v2/cluster/members", tokAdmin, `{"id":"n","address":"a:1"} {}`, 400, "trailing data"},
		{"missing address", "POST", "/v2/cluster/members", tokAdmin, `{"id":"n"}`, 400, "id and address"},
		{"array", "POST", "/v2/tokens", tokAdmin, `[]`, 400, "body"},
		{"member project type", "POST", "/v2/tokens", tokAdmin, `{"project":["a"]}`, 400, "cannot unmarshal array"},
		{"member without project", "POST", "/v2/tokens", tokAdmin, `{"role":"member"}`, 400, "needs a project"},
		{"unknown query", "GET", "/v2/cluster?limit=1000000000", tokAdmin, "", 400, "unknown parameter limit"},
		{"member lists tokens", "GET", "/v2/tokens", tokA, "", 403, "admin token"},
		{"member revokes", "DELETE", "/v2/tokens/t0", tokB, "", 403, "admin token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := call(t, srv, tc.method, tc.target, tc.token, tc.body)
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tc.want)
		})
	}
	// A body past the limit is refused without being read whole.
	rec := call(t, srv, "POST", "/v2/tokens", tokAdmin, `{"project":"`+strings.Repeat("a", 64*maxSmallBody)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
}

func TestHealthzNotReady(t *testing.T) {
	t.Parallel()
	var ready error = fmt.Errorf("no cluster leader")
	srv := New(Options{Ready: func() error { return ready }})
	rec := call(t, srv, "GET", "/healthz", "", "")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.JSONEq(t, `{"status":"not ready","reason":"no cluster leader"}`, rec.Body.String())
}
