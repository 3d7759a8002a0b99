package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// clusterCmd is `altimeter cluster`: the member at --url answers (reads are
// its local view; changes are forwarded to the leader).
func clusterCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "cluster", Short: "Raft cluster: members, leader, partition map (/v2/cluster)"}
	f.register(c, true)

	status := &cobra.Command{
		Use: "status", Short: "Leader, term, commit index, epoch and members", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			b, err := clientGet(cmd, &f, "/v2/cluster")
			if err != nil || asJSON {
				return jsonOut(stdout, b, err)
			}
			var st map[string]any
			if err := decode(b, &st); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "node:        %v (%v)\nleader:      %v (%v)\nterm:        %v\ncommit:      %v (applied %v)\nepoch:       %v\nlease held:  %v\n\n",
				st["node_id"], st["state"], st["leader_id"], st["leader_address"], st["term"], st["commit_index"], st["applied_index"], st["epoch"], st["lease_held"])
			return renderMembers(stdout, st)
		},
	}
	members := &cobra.Command{
		Use: "members", Short: "List members and their state", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			b, err := clientGet(cmd, &f, "/v2/cluster")
			if err != nil {
				return err
			}
			var st map[string]any
			if err := decode(b, &st); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(stdout, st["members"])
			}
			return renderMembers(stdout, st)
		},
	}
	partitions := &cobra.Command{
		Use: "partitions", Short: "Who polls which central resource, with counts per member", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			b, err := clientGet(cmd, &f, "/v2/cluster/partitions")
			if err != nil || asJSON {
				return jsonOut(stdout, b, err)
			}
			var p struct {
				Epoch     uint64           `json:"epoch"`
				Counts    map[string]int   `json:"counts"`
				Resources []map[string]any `json:"resources"`
			}
			if err := json.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("decode answer: %w", err)
			}
			fmt.Fprintf(stdout, "epoch %d\n", p.Epoch)
			rows := []map[string]any{}
			for m, n := range p.Counts {
				rows = append(rows, map[string]any{"member": m, "count": n})
			}
			if err := renderTable(stdout, []column{{"MEMBER", "member", kindText}, {"RESOURCES", "count", kindText}}, sortRows(rows, "member")); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
			return renderTable(stdout, []column{{"POLLSTER", "pollster", kindText}, {"RESOURCE", "resource", kindText}, {"OWNER", "owner", kindText}}, p.Resources)
		},
	}
	var joinID string
	join := &cobra.Command{
		Use:   "join ADDR",
		Short: "Admit the member listening on raft address ADDR (host:port) under --id",
		Long: `Admit a new member: ADDR is the raft address (cluster.bind / advertise) of an
agent started with a cluster block and no raft state yet; --id is its node_id.
The leader checks that ADDR answers as that id before adding it.`,
		Args: exactArg("member raft address"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if joinID == "" {
				return fmt.Errorf("--id is required: the new member's node_id")
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if _, err := c.post(cmd.Context(), "/v2/cluster/members", map[string]string{"id": joinID, "address": args[0]}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "joined %s at %s\n", joinID, args[0])
			return err
		},
	}
	join.Flags().StringVar(&joinID, "id", "", "node id of the member to admit")
	leave := &cobra.Command{
		Use: "leave", Short: "Take the member at --url out of the cluster (a leader hands over first)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if _, err := c.do(cmd.Context(), http.MethodPost, "/v2/cluster/leave", nil, map[string]string{}); err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, "left the cluster; stop this agent now")
			return err
		},
	}
	remove := &cobra.Command{
		Use: "remove ID", Short: "Remove member ID from the cluster (not the leader: use leave on it)", Args: exactArg("member id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if _, err := c.do(cmd.Context(), http.MethodDelete, "/v2/cluster/members/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "removed %s\n", args[0])
			return err
		},
	}
	c.AddCommand(status, members, partitions, join, leave, remove)
	return c
}

func clientGet(cmd *cobra.Command, f *apiFlags, path string) ([]byte, error) {
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	return c.get(cmd.Context(), path, nil)
}

func jsonOut(w io.Writer, b []byte, err error) error {
	if err != nil {
		return err
	}
	return printJSON(w, b)
}

func renderMembers(w io.Writer, st map[string]any) error {
	list, _ := st["members"].([]any)
	rows := make([]map[string]any, 0, len(list))
	for _, m := range list {
		if row, ok := m.(map[string]any); ok {
			if ps, ok := row["pollsters"].([]any); ok {
				parts := make([]string, len(ps))
				for i, p := range ps {
					parts[i] = fmt.Sprint(p)
				}
				row["pollsters"] = strings.Join(parts, ",")
			}
			rows = append(rows, row)
		}
	}
	return renderTable(w, []column{
		{"ID", "id", kindText}, {"STATE", "state", kindText}, {"RAFT_ADDRESS", "raft_address", kindText},
		{"API_ADDRESS", "api_address", kindText}, {"POLLSTERS", "pollsters", kindText},
	}, rows)
}

func sortRows(rows []map[string]any, key string) []map[string]any {
	sort.Slice(rows, func(i, j int) bool { return fmt.Sprint(rows[i][key]) < fmt.Sprint(rows[j][key]) })
	return rows
}
