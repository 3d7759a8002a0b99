package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/altimeter/altimeter/host/auth"
)

// tokenCmd manages API tokens through the API of any cluster member (an
// admin token is needed, by default <data-dir>/admin-token): tokens live
// in the cluster's replicated state, so a token made on one member works
// on every member, and a revoke is refused everywhere within a second.
func tokenCmd(stdout, stderr io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens, cluster-wide (/v2/tokens, admin token needed)",
	}
	f.register(c, true)

	var (
		project string
		role    string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue a token and print it (only this once)",
		Long: `Issue a token and print it (only this once).

A member token sees and writes only its project's data; an admin token sees
every project. In table output the token alone goes to stdout, so
TOKEN=$(altimeter token create --project p) works.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			if err := auth.Validate(project, auth.Role(role)); err != nil {
				return err
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			b, err := cl.post(cmd.Context(), "/v2/tokens", map[string]string{"project": project, "role": role})
			if err != nil {
				return err
			}
			var created struct {
				ID      string `json:"id"`
				Project string `json:"project"`
				Role    string `json:"role"`
				Token   string `json:"token"`
			}
			if err := json.Unmarshal(b, &created); err != nil {
				return fmt.Errorf("decode answer: %w", err)
			}
			if asJSON {
				return writeJSON(stdout, created)
			}
			fmt.Fprintf(stderr, "created token %s (role %s, project %q); it is not shown again\n", created.ID, created.Role, created.Project)
			_, err = fmt.Fprintln(stdout, created.Token)
			return err
		},
	}
	create.Flags().StringVar(&project, "project", "", "project the token is confined to (required for member)")
	create.Flags().StringVar(&role, "role", string(auth.RoleMember), "member|admin")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			b, err := clientGet(cmd, &f, "/v2/tokens")
			if err != nil {
				return err
			}
			var toks []auth.Token
			if err := json.Unmarshal(b, &toks); err != nil {
				return fmt.Errorf("decode answer: %w", err)
			}
			if asJSON {
				return writeJSON(stdout, toks)
			}
			rows := make([]map[string]any, len(toks))
			for i, t := range toks {
				rows[i] = map[string]any{
					"id": t.ID, "project": t.Project, "role": string(t.Role),
					"created": t.Created.UTC().Format(time.RFC3339),
				}
			}
			return renderTable(stdout, []column{
				{"ID", "id", kindText}, {"PROJECT", "project", kindText},
				{"ROLE", "role", kindText}, {"CREATED", "created", kindTime},
			}, rows)
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; every member refuses it within a second",
		Args:  exactArg("token ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			if _, err := cl.do(cmd.Context(), http.MethodDelete, "/v2/tokens/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "revoked %s\n", args[0])
			return err
		},
	}
	c.AddCommand(create, list, revoke)
	return c
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
